//! ER7 (pipe-and-hat) core: a zero-copy generic view of HL7 v2 messages.
//!
//! - [`decode_bytes`] turns wire bytes into text (BOM, MSH-18 character set);
//! - [`Message::parse`] splits the segments eagerly and everything below lazily; views
//!   ([`Segment`], [`Field`], [`Repetition`], [`Component`], [`Subcomponent`]) are `Copy`,
//!   borrow the text and know their byte offset and [`Location`];
//! - [`escape`] decodes and encodes escape sequences, [`path`] resolves `PID-3[2].1`;
//! - [`batch`] reads FHS/BHS files and batches and bare concatenations;
//! - [`Writer`] and [`owned::MessageTree`] write ER7.
//!
//! ```
//! use hl7_runtime::er7::Message;
//! let msg = Message::parse("MSH|^~\\&|LAB||||||ADT^A01|42|P|2.5.1\rPID|1||123^^^HOSP^MR~456\r")?;
//! assert_eq!(msg.message_type(), (Some("ADT"), Some("A01"), None));
//! let id = msg.get("PID-3[2].1")?.map(|item| item.raw());
//! assert_eq!(id, Some("456"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod batch;
mod charset;
mod delimiters;
mod encode;
mod error;
pub mod escape;
mod index;
mod item;
mod location;
mod message;
pub mod owned;
pub mod path;
mod scan;
mod segment;
mod view;

pub use charset::{decode_bytes, encode_text, Charset, CharsetCodeError, Decoded};
pub use delimiters::Delimiters;
pub use encode::Writer;
pub use error::ParseError;
pub(crate) use index::{DelimiterIndex, Split};
pub use item::Item;
pub use location::Location;
pub use message::{Message, Segments};
pub use path::{Path, PathError};
pub(crate) use scan::SplitStr;
pub use segment::{Fields, Segment};
pub use view::{
    Component, Components, Field, Repetition, Repetitions, Subcomponent, Subcomponents,
};
