//! The built-in kinds of destination.

mod folder;
mod http;
mod mllp;
mod peer;

pub(crate) use folder::FolderDeliver;
pub(crate) use http::HttpDeliver;
pub use mllp::judge_ack;
pub(crate) use mllp::MllpDeliver;
pub(crate) use peer::PeerDeliver;
