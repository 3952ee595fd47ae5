//! Reading message files: bytes to text (BOM, MSH-18), then to messages.
//!
//! A file holds one message, a file or batch (`FHS`/`BHS` first, parsed with
//! [`Batch::parse`]), or a bare concatenation of messages. A concatenation is split at each
//! `MSH` ([`split_messages`]) and every piece is parsed alone, so one malformed message does
//! not hide the others; a file or batch is parsed as a whole, since its trailers count it.

use std::fmt;
use std::io::Read;
use std::path::Path;

use hl7_runtime::er7::batch::{split_messages, Batch};
use hl7_runtime::er7::{decode_bytes, Charset, Message, ParseError};

/// How standard input is named in output.
pub(crate) const STDIN: &str = "<stdin>";

/// One input file, read and decoded to text.
#[derive(Debug)]
pub(crate) struct Input {
    /// The path as given on the command line.
    pub(crate) path: String,
    /// The text, without BOM.
    pub(crate) text: String,
    /// The character set the bytes were read in (re-applied when writing ER7).
    pub(crate) charset: Charset,
}

/// Why a file could not be read or split into messages.
#[derive(Debug)]
pub(crate) enum InputError {
    /// The file could not be read.
    Io(String, std::io::Error),
    /// The bytes could not be decoded, or the file or batch structure is broken; located.
    Parse(String, ParseError),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(path, err) => write!(f, "cannot read `{path}`: {err}"),
            InputError::Parse(path, err) => write!(f, "{path}: {err}"),
        }
    }
}

/// One message of a file: its 1-based number in the file, and the message or why it does not
/// parse (the error located in the message's own text).
pub(crate) type Entry<'a> = (usize, Result<Message<'a>, ParseError>);

impl Input {
    /// Reads and decodes `path`.
    pub(crate) fn read(path: &Path) -> Result<Input, InputError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|err| InputError::Io(shown.clone(), err))?;
        Input::from_bytes(shown, &bytes)
    }

    /// Reads `path`, or standard input when it is `-` (shown as `<stdin>`).
    pub(crate) fn read_or_stdin(path: &Path) -> Result<Input, InputError> {
        if path.as_os_str() != "-" {
            return Input::read(path);
        }
        let shown = STDIN.to_owned();
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|err| InputError::Io(shown.clone(), err))?;
        Input::from_bytes(shown, &bytes)
    }

    /// Decodes `bytes` read from the input shown as `shown`.
    pub(crate) fn from_bytes(shown: String, bytes: &[u8]) -> Result<Input, InputError> {
        let decoded = decode_bytes(bytes).map_err(|err| InputError::Parse(shown.clone(), err))?;
        Ok(Input {
            path: shown,
            charset: decoded.charset,
            text: decoded.text.into_owned(),
        })
    }

    /// The messages of the file, in order. A broken file or batch structure is an error of
    /// the whole file (located in the file's text).
    pub(crate) fn messages(&self) -> Result<Vec<Entry<'_>>, InputError> {
        let first = self.text.trim_start_matches(['\r', '\n']);
        if first.starts_with("FHS") || first.starts_with("BHS") {
            let batch = Batch::parse(&self.text)
                .map_err(|err| InputError::Parse(self.path.clone(), err))?;
            return Ok(batch
                .messages
                .into_iter()
                .enumerate()
                .map(|(i, message)| (i + 1, Ok(message)))
                .collect());
        }
        Ok(split_messages(&self.text)
            .enumerate()
            .map(|(i, piece)| (i + 1, Message::parse(piece)))
            .collect())
    }
}

/// How a message is named in diagnostics: `message 2 (MSH-10 = abc)`.
pub(crate) fn describe(number: usize, message: Option<&Message<'_>>) -> String {
    match message.and_then(Message::control_id) {
        Some(id) => format!("message {number} (MSH-10 = {id})"),
        None => format!("message {number}"),
    }
}
