//! What generated code and engines link against.
//!
//! - [`ack`]: acknowledgments, sans-I/O: mode and decision, ACK text, duplicate check.
//! - [`er7`]: the zero-copy generic view of any ER7 message, escapes, charsets, batches, paths,
//!   and the encoder.
//! - [`rules`] and [`validate`]: a profile as static rules, and the one validator that checks
//!   typed and generic messages alike.
//! - [`types`] and [`typed`]: the primitive values and traits of generated message types, and
//!   the zero-copy typed views the derives write beside them.
//! - [`codegen`]: the hub generated code names everything through.
//! - [`mllp`]: the sans-I/O MLLP framing codec; [`transport`]: the tokio MLLP listener and
//!   client.
//! - [`store`]: the durable store (embedded SQLite): messages, per-destination queues,
//!   reprocessing, retention.
//! - [`admin`]: the admin HTTP endpoint: Prometheus metrics, a JSON API (status, message
//!   browser, reprocess, discard, audit log) and alerts.

pub mod ack;
pub mod admin;
pub mod codegen;
pub mod crosswalk;
pub mod engine;
pub mod er7;
mod failpoint;
pub mod mapping;
pub mod mllp;
mod nonempty;
pub mod rules;
pub mod store;
pub mod transport;
pub mod typed;
pub mod types;
pub mod validate;

/// `#[derive(Mapping)]`: see [`mapping`].
pub use compact_str::CompactString;
pub use hl7_macros::Mapping;
pub use mapping::Mapping;
pub use nonempty::NonEmpty;

/// Includes the code generated for a site by `hl7_codegen::Config` in `build.rs`.
///
/// ```text
/// pub mod acme {
///     hl7_runtime::include_site!("acme");
/// }
/// ```
#[macro_export]
macro_rules! include_site {
    ($site:literal) => {
        include!(concat!(env!("OUT_DIR"), "/hl7/", $site, ".rs"));
    };
}
