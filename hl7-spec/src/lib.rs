//! The HL7 v2 specification model and its readers.
//!
//! - [`model`]: the resolved model of one message profile, which the generator and the
//!   run-time validator consume.
//! - [`profile`]: the reader (and writer) of the standard `HL7v2xConformanceProfile` XML format.
//! - [`base`]: the bundled base definitions of the HL7 versions (data types, segments, message
//!   structures, trigger events, tables), stored under `spec/`.
//! - [`site`]: the concise site-profile form, resolved against a base version.
//!
//! Every load error says what is wrong and where, as `file:line:col`.

pub mod base;
pub mod compat;
pub mod error;
pub mod model;
pub mod profile;
pub mod site;
pub mod source;

pub use error::{LoadError, SpecError};
pub use model::*;
pub use source::{SourceFile, Span};
