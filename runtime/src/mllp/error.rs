//! Errors of the MLLP framing layer.

use std::io;

/// What went wrong while framing or unframing MLLP blocks.
///
/// The decoding variants that [`FrameError::is_resync`] reports leave the decoder resynchronised:
/// the bad bytes are already discarded and decoding can go on with the same buffer. None of them
/// ever carries a partial message: a frame is handed out whole or not at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame's content grew past `max_frame_len`; the rest of it is discarded up to the next
    /// start byte `<VT>` without being buffered.
    #[error(
        "MLLP frame exceeds the limit of {limit} bytes; discarding up to the next start block"
    )]
    TooLarge {
        /// The configured `max_frame_len`.
        limit: usize,
    },
    /// A start byte `<VT>` arrived inside a frame: the sender restarted. The partial frame is
    /// dropped and decoding restarts at the new `<VT>`.
    #[error("MLLP start block inside a frame after {discarded} bytes; partial frame dropped")]
    Interrupted {
        /// Bytes of the abandoned frame that were dropped (its `<VT>` included).
        discarded: usize,
    },
    /// An end byte `<FS>` was followed by something other than `<CR>`. The frame is dropped and
    /// decoding resumes at the next `<VT>` (the byte after the `<FS>` is examined again).
    #[error("MLLP end block <FS> not followed by <CR> (got {next:#04x}); frame of {discarded} bytes dropped")]
    StrayEndBlock {
        /// The byte that followed the `<FS>`.
        next: u8,
        /// Bytes of the abandoned frame that were dropped (its `<VT>` and the `<FS>` included).
        discarded: usize,
    },
    /// The stream ended inside a frame (after `<VT>`, before `<FS><CR>`); nothing is dispatched.
    #[error("MLLP stream ended inside a frame after {len} bytes of content")]
    Truncated {
        /// Content bytes received before the end of the stream.
        len: usize,
    },
    /// A message to encode contains a byte that MLLP reserves (`<VT>` or `<FS>`), which would
    /// break the receiver's framing.
    #[error("message contains the reserved MLLP byte {byte:#04x} at offset {offset}")]
    ReservedByte {
        /// The reserved byte found.
        byte: u8,
        /// Its offset in the message.
        offset: usize,
    },
    /// An I/O error of the underlying stream (when the codec is used through `tokio_util`).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the decoder has already discarded the offending bytes and resynchronised, so that
    /// decoding can continue on the same stream (`TooLarge`, `Interrupted`, `StrayEndBlock`).
    ///
    /// A transport may still choose to close the connection (the listener does on `TooLarge`).
    pub fn is_resync(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. } | Self::Interrupted { .. } | Self::StrayEndBlock { .. }
        )
    }
}
