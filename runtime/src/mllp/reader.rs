//! A sans-I/O frame reader that owns its buffer and bounds its growth.

use bytes::BytesMut;

use super::codec::{Frame, MllpCodec};
use super::error::FrameError;

/// Default size of one read into a [`FrameReader`]: 16 KiB.
pub const DEFAULT_READ_CHUNK: usize = 16 * 1024;

/// An [`MllpCodec`] with the buffer it decodes from.
///
/// Unlike a `Framed`, whose buffer grows by doubling, the reader grows its buffer by doubling up
/// to a hard cap of `max_frame_len + 2 + read_chunk` bytes: with [`FrameReader::next_frame`]
/// drained to `Ok(None)` before each read, the buffer's capacity never exceeds
/// [`FrameReader::capacity_bound`], whatever the peer sends.
///
/// ```
/// use hl7_runtime::mllp::{Frame, FrameReader, MllpCodec};
///
/// let mut reader = FrameReader::new(MllpCodec::new());
/// let mut wire: &[u8] = b"noise\x0bMSH|^~\\&|A\r\x1c\r";
/// let mut frames = Vec::new();
/// while !wire.is_empty() {
///     let n = reader.fill(wire);
///     wire = &wire[n..];
///     while let Some(frame) = reader.next_frame().unwrap() {
///         frames.push(frame);
///     }
/// }
/// assert_eq!(frames.len(), 1);
/// assert_eq!(reader.codec().discarded_bytes(), 5);
/// ```
#[derive(Debug)]
pub struct FrameReader {
    codec: MllpCodec,
    buf: BytesMut,
    read_chunk: usize,
}

impl FrameReader {
    /// A reader reading [`DEFAULT_READ_CHUNK`] bytes at a time.
    pub fn new(codec: MllpCodec) -> Self {
        Self::with_read_chunk(codec, DEFAULT_READ_CHUNK)
    }

    /// A reader reading at most `read_chunk` bytes at a time (at least 1).
    pub fn with_read_chunk(codec: MllpCodec, read_chunk: usize) -> Self {
        let read_chunk = read_chunk.max(1);
        let initial = read_chunk
            .saturating_mul(4)
            .min(Self::bound(&codec, read_chunk));
        Self {
            codec,
            buf: BytesMut::with_capacity(initial),
            read_chunk,
        }
    }

    fn bound(codec: &MllpCodec, read_chunk: usize) -> usize {
        codec
            .max_frame_len()
            .saturating_add(2)
            .saturating_add(read_chunk)
    }

    /// The codec (for its settings and [`MllpCodec::discarded_bytes`]).
    pub fn codec(&self) -> &MllpCodec {
        &self.codec
    }

    /// Whether a frame has started (`<VT>` seen) and is not complete yet.
    pub fn in_frame(&self) -> bool {
        self.codec.in_frame()
    }

    /// Bytes currently buffered.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The buffer's current capacity.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The most the buffer's capacity can reach: `max_frame_len + 2 + read_chunk`.
    pub fn capacity_bound(&self) -> usize {
        Self::bound(&self.codec, self.read_chunk)
    }

    /// The buffer to read into, with room for at least one read chunk; read at most
    /// [`FrameReader::read_chunk`] bytes into its spare capacity (tokio's `read_buf` does so).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.reserve_chunk();
        &mut self.buf
    }

    /// The most bytes one read should add.
    pub fn read_chunk(&self) -> usize {
        self.read_chunk
    }

    /// Copies up to one read chunk of `data` into the buffer, returning how many bytes it took.
    pub fn fill(&mut self, data: &[u8]) -> usize {
        self.reserve_chunk();
        let n = data.len().min(self.read_chunk);
        self.buf.extend_from_slice(&data[..n]);
        n
    }

    /// The next complete frame, if the buffer holds one.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        self.codec.decode(&mut self.buf)
    }

    /// After the end of the stream: a last frame, or [`FrameError::Truncated`] if the stream
    /// stopped inside one. Call until `Ok(None)`.
    pub fn finish(&mut self) -> Result<Option<Frame>, FrameError> {
        self.codec.decode_eof(&mut self.buf)
    }

    fn reserve_chunk(&mut self) {
        let chunk = self.read_chunk;
        if self.buf.capacity() - self.buf.len() >= chunk || self.buf.try_reclaim(chunk) {
            return;
        }
        let want = self
            .buf
            .capacity()
            .saturating_mul(2)
            .min(self.capacity_bound())
            .max(self.buf.len() + chunk);
        let mut fresh = BytesMut::with_capacity(want);
        fresh.extend_from_slice(&self.buf);
        self.buf = fresh;
    }
}
