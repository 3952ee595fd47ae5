//! MLLP (Minimal Lower Layer Protocol) framing, without I/O.
//!
//! An MLLP block is `<VT>` (0x0B), the content, then `<FS><CR>` (0x1C 0x0D). [`MllpCodec`] turns
//! bytes into [`Frame`]s with a bounded buffer and resynchronises after oversized or broken
//! frames; [`FrameReader`] owns the buffer and caps its growth. Sockets live in
//! [`crate::transport`].
//!
//! MLLP Release 2 commit acknowledgements (`<VT><ACK><FS><CR>`, `<VT><NAK><FS><CR>`) are decoded
//! as [`Frame::Commit`] when enabled with [`MllpCodec::with_commit_blocks`].

mod codec;
mod error;
mod reader;

pub use codec::{
    Commit, Frame, MllpCodec, CARRIAGE_RETURN, COMMIT_ACK, COMMIT_NAK, DEFAULT_MAX_FRAME_LEN,
    END_BLOCK, START_BLOCK,
};
pub use error::FrameError;
pub use reader::{FrameReader, DEFAULT_READ_CHUNK};
