//! The messages `hl7 bench` sends: files given with `--corpus`, or the hospital mix the parse
//! benchmarks use. Each becomes a [`Template`] whose MSH-10 is replaced for every send, so
//! no two messages of a run, nor of two runs, share a control ID and a receiver's duplicate
//! check never fires.

use std::path::{Path, PathBuf};

use hl7_runtime::er7::{encode_text, Charset, Message};

use crate::input::{describe, Input};

/// The runtime's benchmark corpus generator, shared as a file rather than through the
/// runtime's API: it is test data, not part of the library.
#[path = "../../../runtime/benches/corpus/mod.rs"]
mod hospital_mix;

/// How many hospital-mix messages the default corpus holds (about 3 MB).
const DEFAULT_COUNT: usize = 1000;

/// A message as wire bytes, split around its MSH-10.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Template {
    /// The template of `message`, to be sent in `charset`. Segments end with `\r` whatever
    /// the file used.
    pub(crate) fn of(message: &Message<'_>, charset: Charset) -> Result<Template, String> {
        let text = message.encode();
        let encoded = Message::parse(&text).map_err(|err| err.to_string())?;
        let field = encoded
            .msh()
            .field(10)
            .ok_or_else(|| "its MSH has no field 10 (MSH-10) to give a control ID".to_owned())?;
        let (start, end) = (field.offset(), field.offset() + field.raw().len());
        let bytes = |part: &str| {
            encode_text(part, charset)
                .map(|b| b.into_owned())
                .map_err(|err| err.to_string())
        };
        Ok(Template {
            head: bytes(&text[..start])?,
            tail: bytes(&text[end..])?,
        })
    }

    /// The message with MSH-10 = `control_id` (ASCII, so valid in every charset), written
    /// into `out`.
    pub(crate) fn render(&self, control_id: &str, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        out.extend_from_slice(control_id.as_bytes());
        out.extend_from_slice(&self.tail);
    }
}

/// The default corpus: the hospital mix of the parse benchmarks (ADT, ORU, ORM, RDE of
/// HL7 2.5.1 in enhanced mode, 0.5-8 KB, median about 3 KB).
pub(crate) fn hospital_mix() -> Result<Vec<Template>, Vec<String>> {
    let mut errors = Vec::new();
    let mut templates = Vec::with_capacity(DEFAULT_COUNT);
    for (i, text) in hospital_mix::hospital_mix(DEFAULT_COUNT).iter().enumerate() {
        match Message::parse(text)
            .map_err(|err| err.to_string())
            .and_then(|m| Template::of(&m, Charset::Utf8))
        {
            Ok(template) => templates.push(template),
            Err(err) => errors.push(format!("hospital mix message {}: {err}", i + 1)),
        }
    }
    if errors.is_empty() {
        Ok(templates)
    } else {
        Err(errors)
    }
}

/// The messages of `path`: a message file (one message, a batch, a concatenation), or a
/// folder, whose `.hl7` and `.er7` files are read in name order, sub-folders too. Every
/// problem is returned, not only the first.
pub(crate) fn load(path: &Path) -> Result<Vec<Template>, Vec<String>> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        collect(path, &mut files).map_err(|err| vec![err])?;
        if files.is_empty() {
            return Err(vec![format!(
                "`{}` holds no .hl7 or .er7 file",
                path.display()
            )]);
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut errors = Vec::new();
    let mut templates = Vec::new();
    for file in &files {
        let input = match Input::read(file) {
            Ok(input) => input,
            Err(err) => {
                errors.push(err.to_string());
                continue;
            }
        };
        let entries = match input.messages() {
            Ok(entries) => entries,
            Err(err) => {
                errors.push(err.to_string());
                continue;
            }
        };
        for (number, parsed) in entries {
            let template = parsed
                .map_err(|err| err.to_string())
                .and_then(|m| Template::of(&m, input.charset));
            match template {
                Ok(template) => templates.push(template),
                Err(err) => {
                    errors.push(format!("{}: {}: {err}", input.path, describe(number, None)))
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if templates.is_empty() {
        return Err(vec![format!("`{}` holds no message", path.display())]);
    }
    Ok(templates)
}

/// The message files under `dir`, sorted, hidden entries skipped.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let read =
        std::fs::read_dir(dir).map_err(|err| format!("cannot read `{}`: {err}", dir.display()))?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            collect(&entry, files)?;
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("hl7" | "er7")
        ) {
            files.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_replaces_msh_10_only() {
        let text = "MSH|^~\\&|A|B|C|D|20240501||ADT^A01|OLD|P|2.5.1\nPID|1||X\n";
        let message = Message::parse(text).unwrap();
        let template = Template::of(&message, Charset::Utf8).unwrap();
        let mut out = Vec::new();
        template.render("B1-7", &mut out);
        assert_eq!(
            out,
            b"MSH|^~\\&|A|B|C|D|20240501||ADT^A01|B1-7|P|2.5.1\rPID|1||X\r"
        );

        let short = Message::parse("MSH|^~\\&|A|B\r").unwrap();
        assert!(Template::of(&short, Charset::Utf8).is_err());
    }

    #[test]
    fn the_hospital_mix_is_usable() {
        let templates = hospital_mix().unwrap();
        assert_eq!(templates.len(), DEFAULT_COUNT);
        let mut out = Vec::new();
        templates[0].render("X", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(Message::parse(&text).unwrap().control_id(), Some("X"));
    }
}
