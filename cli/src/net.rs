//! What `send`, `listen` and `bench` share: their exit codes, the tokio runtime, durations on
//! the command line, and the signals that stop them.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use hl7_runtime::ack::AckCode;
use hl7_runtime::transport::{Connect, MllpClient, SendError};

use crate::response::{Ack, AckError};

/// How a network command ended, ordered by gravity; the process exit code is that of the
/// gravest thing that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NetStatus {
    /// Every message got `AA` or `CA`.
    Accepted,
    /// At least one `AE` or `CE`.
    Error,
    /// At least one `AR` or `CR`.
    Rejected,
    /// A connection failed, a response timed out, or a response was not an ACK of the message
    /// sent (unreadable, no MSA, MSA-2 of another message).
    Transport,
    /// An input file or message could not be read or parsed, so it was not sent; or a TLS
    /// file is unusable.
    Input,
}

impl NetStatus {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            NetStatus::Accepted => 0,
            NetStatus::Error => 1,
            NetStatus::Rejected => 2,
            NetStatus::Transport => 3,
            NetStatus::Input => 4,
        }
    }

    /// What an ACK code means for the exit code.
    pub(crate) fn of(code: AckCode) -> NetStatus {
        match code {
            AckCode::AA | AckCode::CA => NetStatus::Accepted,
            AckCode::AE | AckCode::CE => NetStatus::Error,
            AckCode::AR | AckCode::CR => NetStatus::Rejected,
        }
    }
}

/// The exit codes, for the `--help` of `send` and `bench`.
pub(crate) const EXIT_CODES: &str = "\
Exit codes (the gravest that happened wins):
  0  every message got AA or CA
  1  at least one AE or CE
  2  at least one AR or CR (also: usage errors)
  3  transport error: cannot connect, response timeout, connection closed,
     or a response that is not the ACK of the message sent (MSA-2 != MSH-10)
  4  an input file or message could not be read or parsed (it was not sent),
     or a TLS file (--tls-ca, --tls-cert, --tls-key) is unusable";

/// A tokio runtime on all cores, for the commands that serve or open many connections.
pub(crate) fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// A tokio runtime on the calling thread, for `send`: one connection, one message at a time.
pub(crate) fn single_thread_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Why a message got no usable ACK. After any of these the connection is closed, so a late
/// or stray response can never be read as the answer to the next message.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connecting, writing or reading failed, or the response timed out.
    Send(SendError),
    /// The response is not an ACK.
    Ack(AckError),
    /// The ACK answers another message (MSA-2 is not the MSH-10 sent).
    Mismatch {
        /// MSA-2 of the ACK.
        acknowledged: String,
    },
}

impl Failure {
    /// A short name of the kind of failure, for counts.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Failure::Send(err) => match err {
                SendError::Connect { .. } => "connect",
                SendError::WriteTimeout(_) => "write timeout",
                SendError::ResponseTimeout(_) => "response timeout",
                SendError::Closed => "closed by peer",
                SendError::Frame(_) => "malformed frame",
                SendError::UnexpectedCommit(_) => "commit block",
                SendError::InvalidMessage(_) => "not framable",
                SendError::Io(_) => "i/o",
                _ => "other",
            },
            Failure::Ack(_) => "not an ack",
            Failure::Mismatch { .. } => "msa-2 mismatch",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Send(err) => err.fmt(f),
            Failure::Ack(err) => err.fmt(f),
            Failure::Mismatch { acknowledged } => {
                write!(
                    f,
                    "the ACK is for another message (MSA-2 = `{acknowledged}`)"
                )
            }
        }
    }
}

/// Sends `message`, whose MSH-10 is `control_id`, and reads its ACK; a response that is not
/// the ACK of this very message is a [`Failure`] and closes the connection (RELIABILITY.md:
/// accept an ACK only if MSA-2 is the in-flight MSH-10).
pub(crate) async fn exchange<C: Connect>(
    client: &mut MllpClient<C>,
    message: &[u8],
    control_id: &str,
) -> Result<Ack, Failure> {
    let response = client.send(message).await.map_err(|error| match error {
        SendError::WrongAck { acknowledged, .. } => Failure::Mismatch { acknowledged },
        other => Failure::Send(other),
    })?;
    let ack = match Ack::read(&response) {
        Ok(ack) => ack,
        Err(err) => {
            client.disconnect();
            return Err(Failure::Ack(err));
        }
    };
    if ack.acknowledged_id != control_id {
        client.disconnect();
        return Err(Failure::Mismatch {
            acknowledged: ack.acknowledged_id,
        });
    }
    Ok(ack)
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`250ms`, `5s`, `1.5m`), or
/// a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 5s, 2m)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// A future that completes on Ctrl-C, or on SIGTERM on Unix (how `kill` and service managers
/// stop us). The handlers are installed by this call, not at the first poll, so a signal that
/// comes right after start-up is not lost. Call it inside the runtime.
pub(crate) fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn gravity() {
        assert!(NetStatus::Accepted < NetStatus::Error);
        assert!(NetStatus::Rejected < NetStatus::Transport);
        assert_eq!(NetStatus::of(AckCode::CR), NetStatus::Rejected);
        assert_eq!(NetStatus::of(AckCode::CE).code(), 1);
    }
}
