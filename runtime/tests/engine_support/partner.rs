//! A partner that keeps one MLLP connection and both sends and receives on it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hl7_runtime::mllp::{Frame, FrameReader, MllpCodec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The partner's end of the connection: writes frames, reads frames.
pub struct Partner {
    stream: TcpStream,
    reader: FrameReader,
}

impl Partner {
    pub async fn connect(addr: SocketAddr) -> Partner {
        Partner {
            stream: TcpStream::connect(addr).await.unwrap(),
            reader: FrameReader::new(MllpCodec::new()),
        }
    }

    /// The partner's end of a connection the engine opened to it.
    pub fn accepted(stream: TcpStream) -> Partner {
        Partner {
            stream,
            reader: FrameReader::new(MllpCodec::new()),
        }
    }

    pub async fn write(&mut self, message: &[u8]) {
        let mut out = BytesMut::new();
        MllpCodec::encode_message(message, &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// The next frame, or `None` when the engine closed the connection.
    pub async fn read(&mut self) -> Option<Bytes> {
        loop {
            if let Some(Frame::Message(m)) = self.reader.next_frame().unwrap() {
                return Some(m);
            }
            let read = tokio::time::timeout(
                Duration::from_secs(10),
                self.stream.read_buf(self.reader.read_buffer()),
            )
            .await
            .expect("a frame within 10 s")
            .unwrap();
            if read == 0 {
                return None;
            }
        }
    }
}
