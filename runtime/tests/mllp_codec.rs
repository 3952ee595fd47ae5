//! MLLP codec robustness: T-MLLP-1 (random split points), the codec side of T-MLLP-2 (bounded
//! memory on oversize) and T-MLLP-3 (garbage, stray end block, start inside a frame, EOF).

use std::path::Path;

use bytes::{Bytes, BytesMut};
use hl7_runtime::mllp::{Frame, FrameError, FrameReader, MllpCodec, DEFAULT_MAX_FRAME_LEN};
use proptest::prelude::*;
use tokio_stream::StreamExt;
use tokio_util::codec::FramedRead;

/// The fixture corpus, listed by MANIFEST.tsv.
fn corpus() -> Vec<Bytes> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messages");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(source), Some(file)) = (cols.next(), cols.next()) else {
            continue;
        };
        let bytes = std::fs::read(dir.join(source).join(file)).expect("fixture listed in MANIFEST");
        assert!(
            !bytes.contains(&0x0B) && !bytes.contains(&0x1C),
            "{file} holds MLLP bytes"
        );
        if !bytes.is_empty() {
            out.push(Bytes::from(bytes));
        }
    }
    assert!(out.len() >= 100, "corpus too small: {}", out.len());
    out
}

fn wire_of(messages: &[Bytes]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for m in messages {
        MllpCodec::encode_message(m, &mut buf).expect("fixture frames");
    }
    buf.to_vec()
}

/// Decodes `wire` cut at `cuts` (sorted offsets) through the plain sans-I/O core.
fn decode_split(wire: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut codec = MllpCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[start..end]);
        start = end;
        while let Some(frame) = codec.decode(&mut buf).expect("clean corpus decodes") {
            match frame {
                Frame::Message(m) => out.push(m),
                Frame::Commit(c) => panic!("unexpected commit {c:?}"),
            }
        }
    }
    assert!(codec.decode_eof(&mut buf).expect("no truncation").is_none());
    assert_eq!(codec.discarded_bytes(), 0);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// T-MLLP-1: any subset of the corpus, cut at random points (1 byte up to whole frames and
    /// beyond), decodes to exactly the messages sent.
    #[test]
    fn t_mllp_1_random_split_points_decode_identically(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..24),
        cut_seeds in prop::collection::vec(any::<prop::sample::Index>(), 0..64),
        byte_by_byte in any::<bool>(),
    ) {
        let corpus = corpus_cached();
        let messages: Vec<Bytes> = picks.iter().map(|i| i.get(corpus).clone()).collect();
        let wire = wire_of(&messages);
        let cuts: Vec<usize> = if byte_by_byte && wire.len() < 4096 {
            (1..wire.len()).collect()
        } else {
            let mut c: Vec<usize> = cut_seeds.iter().map(|i| i.index(wire.len())).collect();
            c.sort_unstable();
            c
        };
        prop_assert_eq!(decode_split(&wire, &cuts), messages);
    }

    /// F-1 shape: arbitrary bytes in arbitrary chunks never panic and never grow the reader's
    /// buffer past its bound; every frame handed out is within the limit and free of MLLP bytes.
    #[test]
    fn arbitrary_bytes_bounded(
        seed in any::<u64>(),
        len in 0usize..8192,
        chunks in prop::collection::vec(1usize..300, 1..40),
    ) {
        // Random bytes with MLLP's own bytes over-represented.
        let mut x = seed | 1;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match (x >> 56) as u8 {
                    0..=12 => 0x0B,
                    13..=25 => 0x1C,
                    26..=38 => 0x0D,
                    b => b,
                }
            })
            .collect();
        let mut reader = FrameReader::with_read_chunk(MllpCodec::new().with_max_frame_len(200), 64);
        let mut rest = &data[..];
        let mut i = 0;
        while !rest.is_empty() {
            let want = chunks[i % chunks.len()].min(rest.len());
            i += 1;
            let n = reader.fill(&rest[..want]);
            rest = &rest[n..];
            loop {
                match reader.next_frame() {
                    Ok(Some(Frame::Message(m))) => {
                        prop_assert!(m.len() <= 200);
                        prop_assert!(!m.contains(&0x0B) && !m.contains(&0x1C));
                    }
                    Ok(Some(Frame::Commit(_))) => prop_assert!(false, "commit blocks are off"),
                    Ok(None) => break,
                    Err(e) => prop_assert!(e.is_resync(), "{e:?}"),
                }
                prop_assert!(reader.buffer_capacity() <= reader.capacity_bound());
            }
        }
        while let Ok(Some(_)) | Err(FrameError::TooLarge { .. } | FrameError::Interrupted { .. } | FrameError::StrayEndBlock { .. }) = reader.finish() {}
        prop_assert!(reader.buffer_capacity() <= reader.capacity_bound());
    }
}

fn corpus_cached() -> &'static [Bytes] {
    static CORPUS: std::sync::OnceLock<Vec<Bytes>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(corpus)
}

/// T-MLLP-1 through tokio-util's `FramedRead` over tokio-test's mock I/O: the whole corpus, read
/// in chunks of every size from 1 byte to larger than a frame.
#[tokio::test]
async fn t_mllp_1_framed_read_over_mock_io() {
    let corpus = corpus_cached();
    let wire = wire_of(corpus);
    for chunk in [1usize, 2, 3, 7, 64, 333, 1500, 4096, 65536] {
        let mut builder = tokio_test::io::Builder::new();
        for piece in wire.chunks(chunk) {
            builder.read(piece);
        }
        let mut framed = FramedRead::new(builder.build(), MllpCodec::new());
        let mut got = Vec::new();
        while let Some(frame) = framed.next().await {
            match frame.expect("clean corpus") {
                Frame::Message(m) => got.push(m),
                Frame::Commit(c) => panic!("unexpected commit {c:?}"),
            }
        }
        assert_eq!(got.len(), corpus.len(), "chunk {chunk}");
        assert!(got.iter().zip(corpus).all(|(a, b)| a == b), "chunk {chunk}");
        assert_eq!(framed.decoder().discarded_bytes(), 0);
    }
}

/// T-MLLP-3 over mock I/O: EOF inside a frame gives `Truncated` through `FramedRead` and the
/// partial message is never yielded.
#[tokio::test]
async fn t_mllp_3_eof_mid_frame_over_mock_io() {
    let mock = tokio_test::io::Builder::new()
        .read(b"\x0bMSH|^~\\&|A\r\x1c")
        .read(b"\r\x0bMSH|^~\\&|PARTIAL")
        .read(b"\rPID|1")
        .build();
    let mut framed = FramedRead::new(mock, MllpCodec::new());
    let first = framed.next().await;
    assert!(matches!(first, Some(Ok(Frame::Message(ref m))) if &m[..] == b"MSH|^~\\&|A\r"));
    let second = framed.next().await;
    assert!(
        matches!(second, Some(Err(FrameError::Truncated { len: 22 }))),
        "{second:?}"
    );
    assert!(framed.next().await.is_none());
}

/// T-MLLP-2, codec side: a frame of `max_frame_len + 1` is refused, and 64 MiB without `<FS>`
/// never makes the reader's buffer larger than its bound (`max_frame_len + 2 + read chunk`).
#[test]
fn t_mllp_2_oversize_keeps_buffer_bounded() {
    // Exactly at the limit: accepted. One more byte: TooLarge.
    let mut reader = FrameReader::new(MllpCodec::new());
    let mut wire = vec![0x0B];
    wire.extend(std::iter::repeat_n(b'A', DEFAULT_MAX_FRAME_LEN));
    wire.extend_from_slice(b"\x1c\r\x0b");
    wire.extend(std::iter::repeat_n(b'B', DEFAULT_MAX_FRAME_LEN + 1));
    wire.extend_from_slice(b"\x1c\r\x0bnext\x1c\r");
    let mut results = Vec::new();
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let n = reader.fill(rest);
        rest = &rest[n..];
        loop {
            match reader.next_frame() {
                Ok(Some(Frame::Message(m))) => results.push(Ok(m.len())),
                Ok(Some(Frame::Commit(_))) => unreachable!(),
                Ok(None) => break,
                Err(e) => results.push(Err(e.to_string())),
            }
        }
        assert!(reader.buffer_capacity() <= reader.capacity_bound());
    }
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[0], Ok(DEFAULT_MAX_FRAME_LEN));
    assert!(results[1].as_ref().is_err_and(|e| e.contains("exceeds")));
    assert_eq!(results[2], Ok(4));

    // A start block and then 64 MiB of content with no end block.
    let mut reader = FrameReader::new(MllpCodec::new());
    let chunk = vec![b'X'; reader.read_chunk()];
    assert_eq!(reader.fill(b"\x0bMSH|"), 5);
    let mut too_large = 0;
    let mut max_capacity = 0;
    let mut fed = 0usize;
    while fed < 64 * 1024 * 1024 {
        fed += reader.fill(&chunk);
        loop {
            match reader.next_frame() {
                Ok(Some(_)) => panic!("no frame can come out of this"),
                Ok(None) => break,
                Err(FrameError::TooLarge { .. }) => too_large += 1,
                Err(e) => panic!("{e}"),
            }
        }
        max_capacity = max_capacity.max(reader.buffer_capacity());
    }
    assert_eq!(too_large, 1);
    assert!(
        max_capacity <= DEFAULT_MAX_FRAME_LEN + 2 + reader.read_chunk(),
        "{max_capacity}"
    );
    assert!(reader.buffered() == 0);
    assert!(reader.codec().discarded_bytes() >= 64 * 1024 * 1024);
}

/// T-MLLP-3: 1 MiB of random bytes before a frame, a stray `<FS>`, a `<VT>` inside a frame and
/// EOF inside a frame: no panic, no partial frame out, the good frames all come through.
#[test]
fn t_mllp_3_garbage_and_broken_frames() {
    // Deterministic pseudo-random garbage (xorshift), with and without MLLP bytes in it.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let good = b"MSH|^~\\&|SND|FAC|RCV|FAC|20240101||ADT^A01|1|P|2.5\rPID|1\r";

    // Clean noise (no MLLP bytes): exactly the good frame, all the noise counted.
    let clean: Vec<u8> = noise
        .iter()
        .copied()
        .filter(|b| *b != 0x0B && *b != 0x1C)
        .collect();
    let mut wire = clean.clone();
    wire.extend_from_slice(b"\x0b");
    wire.extend_from_slice(good);
    wire.extend_from_slice(b"\x1c\r");
    let (frames, errors, codec) = run(&wire, 4096);
    assert_eq!(frames, vec![Bytes::from_static(good)]);
    assert!(errors.is_empty());
    assert_eq!(codec.discarded_bytes(), clean.len() as u64);

    // Raw noise, with `<VT>`, `<FS>` and `<CR>` in it, ending inside a frame: the good frame
    // still comes through last (an earlier frame made of noise is complete, not partial).
    noise.extend_from_slice(b"\x0bnoise");
    let mut wire = noise.clone();
    wire.extend_from_slice(b"\x0b");
    wire.extend_from_slice(good);
    wire.extend_from_slice(b"\x1c\r");
    let (frames, _errors, _) = run(&wire, 1000);
    assert_eq!(frames.last(), Some(&Bytes::from_static(good)));

    // A stray `<FS>`, a `<VT>` inside a frame, then EOF mid-frame.
    let wire = b"\x0bMSH|stray\x1cX\x0bMSH|restarted\x0bMSH|ok\r\x1c\r\x0bMSH|cut off";
    for chunk in [1, 2, 5, wire.len()] {
        let (frames, errors, _) = run(wire, chunk);
        assert_eq!(
            frames,
            vec![Bytes::from_static(b"MSH|ok\r")],
            "chunk {chunk}"
        );
        assert_eq!(
            errors,
            ["stray", "interrupted", "truncated"],
            "chunk {chunk}"
        );
    }
}

fn run(wire: &[u8], chunk: usize) -> (Vec<Bytes>, Vec<&'static str>, MllpCodec) {
    let mut codec = MllpCodec::new();
    let mut buf = BytesMut::new();
    let (mut frames, mut errors) = (Vec::new(), Vec::new());
    let mut note = |e: FrameError| match e {
        FrameError::StrayEndBlock { .. } => errors.push("stray"),
        FrameError::Interrupted { .. } => errors.push("interrupted"),
        FrameError::Truncated { .. } => errors.push("truncated"),
        FrameError::TooLarge { .. } => errors.push("too large"),
        other => panic!("{other}"),
    };
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Frame::Message(m))) => frames.push(m),
                Ok(Some(Frame::Commit(_))) => unreachable!(),
                Ok(None) => break,
                Err(e) => note(e),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => frames.push(m),
            Ok(Some(Frame::Commit(_))) => unreachable!(),
            Ok(None) => break,
            Err(e) => note(e),
        }
    }
    (frames, errors, codec)
}
