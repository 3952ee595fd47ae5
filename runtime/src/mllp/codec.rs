//! The sans-I/O MLLP codec: `<VT> content <FS><CR>` blocks in, frames out.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use memchr::{memchr, memchr2};

use super::error::FrameError;

/// Start block, `<VT>` (0x0B).
pub const START_BLOCK: u8 = 0x0B;
/// End block, `<FS>` (0x1C); must be followed by [`CARRIAGE_RETURN`].
pub const END_BLOCK: u8 = 0x1C;
/// Carriage return, `<CR>` (0x0D), the second byte of the end of a block.
pub const CARRIAGE_RETURN: u8 = 0x0D;
/// The content byte of an MLLP Release 2 commit acknowledgement block, `<ACK>` (0x06).
pub const COMMIT_ACK: u8 = 0x06;
/// The content byte of an MLLP Release 2 negative commit acknowledgement block, `<NAK>` (0x15).
pub const COMMIT_NAK: u8 = 0x15;
/// Default bound on a frame's content: 8 MiB (tokio-util `LengthDelimitedCodec`'s default).
pub const DEFAULT_MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// An MLLP Release 2 commit acknowledgement: the receiver has (or has not) safely stored the
/// message. Carried by a block whose whole content is one `<ACK>` or `<NAK>` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Commit {
    /// `<VT><ACK><FS><CR>`: the message was committed to durable storage.
    Ack,
    /// `<VT><NAK><FS><CR>`: the message could not be committed; the sender should resend it.
    Nak,
}

impl Commit {
    /// The block's single content byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Ack => COMMIT_ACK,
            Self::Nak => COMMIT_NAK,
        }
    }
}

/// One complete MLLP block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An HL7 message (or any content), without the framing bytes.
    Message(Bytes),
    /// An MLLP Release 2 commit ACK/NAK block. Only decoded as such when the codec was built
    /// with [`MllpCodec::with_commit_blocks`]; otherwise such a block is a one-byte `Message`.
    Commit(Commit),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for `<VT>`; everything else is discarded and counted.
    Hunting,
    /// After `<VT>`: the buffer starts with the frame's content; `scanned` bytes of it hold
    /// neither `<VT>` nor `<FS>`.
    InFrame { scanned: usize },
}

/// A bounded, resynchronising MLLP codec.
///
/// The core is sans-I/O: [`MllpCodec::decode`] takes a [`BytesMut`] holding whatever bytes
/// arrived so far and returns at most one frame; [`MllpCodec::decode_eof`] is called once the
/// stream has ended. The same codec implements `tokio_util::codec::{Decoder, Encoder}` for use
/// with `Framed`.
///
/// Behaviour on malformed input (never a panic, never a partial frame handed out):
///
/// - bytes before a `<VT>` are discarded and counted in [`MllpCodec::discarded_bytes`];
/// - content longer than `max_frame_len` gives [`FrameError::TooLarge`]; the bytes buffered so
///   far are dropped and the rest of the frame is discarded as it arrives, up to the next `<VT>`,
///   so the buffer never holds more than `max_frame_len + 1` bytes plus one read;
/// - a `<VT>` inside a frame gives [`FrameError::Interrupted`] and decoding restarts at that
///   `<VT>` (the sender gave up on the old frame and started a new one);
/// - an `<FS>` not followed by `<CR>` gives [`FrameError::StrayEndBlock`]: MLLP reserves `<FS>`
///   for the end block and ER7 content cannot contain it, so it is not kept as data; the frame
///   is dropped (it was never acknowledged, so an MLLP sender resends it) and decoding resumes at
///   the next `<VT>`;
/// - the stream ending inside a frame gives [`FrameError::Truncated`] from `decode_eof`.
///
/// Every byte consumed that does not end up in a returned frame (or the delimiters of one) is
/// counted in [`MllpCodec::discarded_bytes`].
#[derive(Debug, Clone)]
pub struct MllpCodec {
    max_frame_len: usize,
    commit_blocks: bool,
    state: State,
    discarded: u64,
}

impl Default for MllpCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl MllpCodec {
    /// A codec with the default 8 MiB frame bound and commit blocks off.
    pub fn new() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            commit_blocks: false,
            state: State::Hunting,
            discarded: 0,
        }
    }

    /// Sets the largest frame content accepted, in bytes.
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// Decodes one-byte `<ACK>`/`<NAK>` blocks as [`Frame::Commit`] (MLLP Release 2).
    pub fn with_commit_blocks(mut self, on: bool) -> Self {
        self.commit_blocks = on;
        self
    }

    /// The largest frame content accepted, in bytes.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Whether commit blocks are decoded as [`Frame::Commit`].
    pub fn commit_blocks(&self) -> bool {
        self.commit_blocks
    }

    /// Bytes consumed so far that were not part of a returned frame: garbage before `<VT>`,
    /// oversized, interrupted, broken or truncated frames.
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded
    }

    /// Whether a `<VT>` has been seen and its frame is not complete yet (for frame read
    /// timeouts).
    pub fn in_frame(&self) -> bool {
        matches!(self.state, State::InFrame { .. })
    }

    fn discard(&mut self, n: usize) {
        self.discarded = self.discarded.saturating_add(n as u64);
    }

    /// Decodes at most one frame from the front of `buf`, consuming what it has dealt with.
    ///
    /// `Ok(None)` means more bytes are needed. After an error for which
    /// [`FrameError::is_resync`] holds, call again: the decoder has resynchronised.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.state {
                State::Hunting => match memchr(START_BLOCK, buf) {
                    None => {
                        self.discard(buf.len());
                        buf.clear();
                        return Ok(None);
                    }
                    Some(i) => {
                        self.discard(i);
                        buf.advance(i + 1);
                        self.state = State::InFrame { scanned: 0 };
                    }
                },
                State::InFrame { scanned } => {
                    let found =
                        memchr2(START_BLOCK, END_BLOCK, &buf[scanned..]).map(|i| i + scanned);
                    let Some(j) = found else {
                        if buf.len() > self.max_frame_len {
                            // `<VT>` + everything buffered; the rest is dropped while hunting.
                            self.discard(1 + buf.len());
                            buf.clear();
                            self.state = State::Hunting;
                            return Err(FrameError::TooLarge {
                                limit: self.max_frame_len,
                            });
                        }
                        self.state = State::InFrame { scanned: buf.len() };
                        return Ok(None);
                    };
                    if buf[j] == START_BLOCK {
                        let discarded = 1 + j;
                        self.discard(discarded);
                        buf.advance(j + 1);
                        self.state = State::InFrame { scanned: 0 };
                        return Err(FrameError::Interrupted { discarded });
                    }
                    // `<FS>` at j.
                    if j > self.max_frame_len {
                        self.discard(1 + j + 1);
                        buf.advance(j + 1);
                        self.state = State::Hunting;
                        return Err(FrameError::TooLarge {
                            limit: self.max_frame_len,
                        });
                    }
                    match buf.get(j + 1).copied() {
                        None => {
                            self.state = State::InFrame { scanned: j };
                            return Ok(None);
                        }
                        Some(CARRIAGE_RETURN) => {
                            let content = buf.split_to(j).freeze();
                            buf.advance(2);
                            self.state = State::Hunting;
                            return Ok(Some(self.classify(content)));
                        }
                        Some(next) => {
                            let discarded = 1 + j + 1;
                            self.discard(discarded);
                            buf.advance(j + 1);
                            self.state = State::Hunting;
                            return Err(FrameError::StrayEndBlock { next, discarded });
                        }
                    }
                }
            }
        }
    }

    /// Decodes what is left once the stream has ended: a last complete frame, or
    /// [`FrameError::Truncated`] if the stream stopped inside a frame (nothing is dispatched).
    /// Call until it returns `Ok(None)`.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        match self.state {
            State::Hunting => Ok(None),
            State::InFrame { .. } => {
                let len = buf.len();
                self.discard(1 + len);
                buf.clear();
                self.state = State::Hunting;
                Err(FrameError::Truncated { len })
            }
        }
    }

    fn classify(&self, content: Bytes) -> Frame {
        if self.commit_blocks && content.len() == 1 {
            match content[0] {
                COMMIT_ACK => return Frame::Commit(Commit::Ack),
                COMMIT_NAK => return Frame::Commit(Commit::Nak),
                _ => {}
            }
        }
        Frame::Message(content)
    }

    /// Appends `message` framed as `<VT> message <FS><CR>` to `dst`.
    ///
    /// Fails with [`FrameError::ReservedByte`] if the message contains `<VT>` or `<FS>`, which
    /// would break the receiver's framing.
    pub fn encode_message(message: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        if let Some(offset) = memchr2(START_BLOCK, END_BLOCK, message) {
            return Err(FrameError::ReservedByte {
                byte: message[offset],
                offset,
            });
        }
        dst.reserve(message.len() + 3);
        dst.put_u8(START_BLOCK);
        dst.extend_from_slice(message);
        dst.put_slice(&[END_BLOCK, CARRIAGE_RETURN]);
        Ok(())
    }

    /// Appends a frame (message or commit block) to `dst`.
    pub fn encode_frame(frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        match frame {
            Frame::Message(message) => Self::encode_message(message, dst),
            Frame::Commit(commit) => {
                dst.put_slice(&[START_BLOCK, commit.byte(), END_BLOCK, CARRIAGE_RETURN]);
                Ok(())
            }
        }
    }
}

impl tokio_util::codec::Decoder for MllpCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        MllpCodec::decode(self, src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        MllpCodec::decode_eof(self, src)
    }
}

impl tokio_util::codec::Encoder<Frame> for MllpCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        Self::encode_frame(&item, dst)
    }
}

impl tokio_util::codec::Encoder<Bytes> for MllpCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        Self::encode_message(&item, dst)
    }
}

impl<'a> tokio_util::codec::Encoder<&'a [u8]> for MllpCodec {
    type Error = FrameError;

    fn encode(&mut self, item: &'a [u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        Self::encode_message(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &[u8]) -> Frame {
        Frame::Message(Bytes::copy_from_slice(s))
    }

    fn drain(codec: &mut MllpCodec, buf: &mut BytesMut) -> Vec<Result<Frame, String>> {
        let mut out = Vec::new();
        loop {
            match codec.decode(buf) {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => return out,
                Err(e) => out.push(Err(format!("{e:?}"))),
            }
        }
    }

    #[test]
    fn one_frame() {
        let mut c = MllpCodec::new();
        let mut b = BytesMut::from(&b"\x0bMSH|a\r\x1c\r"[..]);
        assert_eq!(c.decode(&mut b).ok().flatten(), Some(msg(b"MSH|a\r")));
        assert!(b.is_empty());
        assert_eq!(c.discarded_bytes(), 0);
    }

    #[test]
    fn byte_by_byte() {
        let wire = b"\x0bA\x1c\r\x0bBB\x1c\r";
        let mut c = MllpCodec::new();
        let mut b = BytesMut::new();
        let mut out = Vec::new();
        for &x in wire {
            b.put_u8(x);
            out.extend(drain(&mut c, &mut b));
        }
        assert_eq!(out, vec![Ok(msg(b"A")), Ok(msg(b"BB"))]);
    }

    #[test]
    fn garbage_before_start_is_counted() {
        let mut c = MllpCodec::new();
        let mut b = BytesMut::from(&b"xyz\r\n\x0bA\x1c\r"[..]);
        assert_eq!(drain(&mut c, &mut b), vec![Ok(msg(b"A"))]);
        assert_eq!(c.discarded_bytes(), 5);
    }

    #[test]
    fn start_inside_frame_resyncs() {
        let mut c = MllpCodec::new();
        let mut b = BytesMut::from(&b"\x0bPART\x0bWHOLE\x1c\r"[..]);
        let out = drain(&mut c, &mut b);
        assert_eq!(out.len(), 2);
        assert!(out[0].as_ref().is_err_and(|e| e.contains("Interrupted")));
        assert_eq!(out[1], Ok(msg(b"WHOLE")));
        assert_eq!(c.discarded_bytes(), 5);
    }

    #[test]
    fn stray_end_block_drops_frame() {
        let mut c = MllpCodec::new();
        let mut b = BytesMut::from(&b"\x0bAB\x1cC\x1c\r\x0bOK\x1c\r"[..]);
        let out = drain(&mut c, &mut b);
        assert!(out[0].as_ref().is_err_and(|e| e.contains("StrayEndBlock")));
        assert_eq!(out[1..], [Ok(msg(b"OK"))]);
        // `<FS>` immediately followed by a new `<VT>`: that frame still decodes.
        let mut b = BytesMut::from(&b"\x0bAB\x1c\x0bOK\x1c\r"[..]);
        let out = drain(&mut c, &mut b);
        assert!(out[0].is_err());
        assert_eq!(out[1..], [Ok(msg(b"OK"))]);
    }

    #[test]
    fn too_large_then_resync() {
        let mut c = MllpCodec::new().with_max_frame_len(4);
        let mut b = BytesMut::from(&b"\x0b1234\x1c\r\x0b12345\x1c\r\x0bok\x1c\r"[..]);
        let out = drain(&mut c, &mut b);
        assert_eq!(out[0], Ok(msg(b"1234")));
        assert!(out[1].as_ref().is_err_and(|e| e.contains("TooLarge")));
        assert_eq!(out[2..], [Ok(msg(b"ok"))]);
        // Streamed: the oversized content is never buffered beyond the limit.
        let mut c = MllpCodec::new().with_max_frame_len(4);
        let mut b = BytesMut::from(&b"\x0b123"[..]);
        assert!(drain(&mut c, &mut b).is_empty());
        b.put_slice(b"45");
        assert!(drain(&mut c, &mut b)[0]
            .as_ref()
            .is_err_and(|e| e.contains("TooLarge")));
        assert!(b.is_empty());
        b.put_slice(b"6789\x1c\r\x0bok\x1c\r");
        assert_eq!(drain(&mut c, &mut b), vec![Ok(msg(b"ok"))]);
    }

    #[test]
    fn end_block_at_limit_waits_for_cr() {
        let mut c = MllpCodec::new().with_max_frame_len(4);
        let mut b = BytesMut::from(&b"\x0b1234\x1c"[..]);
        assert!(drain(&mut c, &mut b).is_empty());
        b.put_u8(b'\r');
        assert_eq!(drain(&mut c, &mut b), vec![Ok(msg(b"1234"))]);
    }

    #[test]
    fn eof_inside_frame_is_truncated() {
        let mut c = MllpCodec::new();
        let mut b = BytesMut::from(&b"\x0bA\x1c\r\x0bMSH|partial"[..]);
        assert_eq!(c.decode_eof(&mut b).ok().flatten(), Some(msg(b"A")));
        assert!(matches!(
            c.decode_eof(&mut b),
            Err(FrameError::Truncated { len: 11 })
        ));
        assert!(matches!(c.decode_eof(&mut b), Ok(None)));
        // EOF after garbage only: nothing, no error.
        let mut b = BytesMut::from(&b"junk"[..]);
        assert!(matches!(c.decode_eof(&mut b), Ok(None)));
    }

    #[test]
    fn commit_blocks() {
        let wire = b"\x0b\x06\x1c\r\x0b\x15\x1c\r";
        let mut c = MllpCodec::new().with_commit_blocks(true);
        let mut b = BytesMut::from(&wire[..]);
        assert_eq!(
            drain(&mut c, &mut b),
            vec![
                Ok(Frame::Commit(Commit::Ack)),
                Ok(Frame::Commit(Commit::Nak))
            ]
        );
        let mut c = MllpCodec::new();
        let mut b = BytesMut::from(&wire[..]);
        assert_eq!(
            drain(&mut c, &mut b),
            vec![Ok(msg(b"\x06")), Ok(msg(b"\x15"))]
        );
        let mut out = BytesMut::new();
        MllpCodec::encode_frame(&Frame::Commit(Commit::Nak), &mut out).ok();
        assert_eq!(&out[..], b"\x0b\x15\x1c\r");
    }

    #[test]
    fn encode_refuses_reserved_bytes() {
        let mut out = BytesMut::new();
        assert!(MllpCodec::encode_message(b"MSH|\x1c", &mut out).is_err());
        assert!(MllpCodec::encode_message(b"\x0bMSH|", &mut out).is_err());
        assert!(out.is_empty());
        assert!(MllpCodec::encode_message(b"MSH|ok\r", &mut out).is_ok());
        assert_eq!(&out[..], b"\x0bMSH|ok\r\x1c\r");
    }
}
