//! Paths like `PID-3[2].1.2`: parse, print, resolve against a [`Message`].

use std::fmt;
use std::str::FromStr;

use super::item::Item;
use super::message::Message;

/// A path to an item of a message: `SEG[occurrence]-field[repetition].component.subcomponent`.
///
/// Examples: `PID-3[2].1.2`, `OBR[1]-4.1`, `MSH-9.2`, `PID-5`, `PID`. The occurrence is
/// 1-based and defaults to 1; a missing repetition means the first one when a component is
/// asked for, and the whole field otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// Segment id, e.g. `PID`.
    pub segment: String,
    /// 1-based occurrence of the segment in the message.
    pub occurrence: usize,
    /// 1-based field number.
    pub field: Option<usize>,
    /// 1-based repetition number.
    pub repetition: Option<usize>,
    /// 1-based component number.
    pub component: Option<usize>,
    /// 1-based subcomponent number.
    pub subcomponent: Option<usize>,
}

/// A path that cannot be parsed; says which character (0-based, in chars) is wrong.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty.
    #[error("empty path")]
    Empty,
    /// The segment id is not three characters `[A-Z][A-Z0-9]{2}`.
    #[error("bad segment id at character {position} of `{path}`")]
    BadSegmentId {
        /// The path.
        path: String,
        /// 0-based character position of the problem.
        position: usize,
    },
    /// Something else than what the grammar allows at this point.
    #[error("expected {expected} at character {position} of `{path}`, found {found}")]
    Unexpected {
        /// The path.
        path: String,
        /// 0-based character position of the problem.
        position: usize,
        /// What would have been valid.
        expected: &'static str,
        /// What was found (`end of path` at the end).
        found: String,
    },
    /// A number is 0 or too large (numbers are 1-based).
    #[error("bad number at character {position} of `{path}` (numbers are 1-based)")]
    BadNumber {
        /// The path.
        path: String,
        /// 0-based character position of the number.
        position: usize,
    },
}

struct Cursor<'p> {
    path: &'p str,
    chars: Vec<char>,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expected: &'static str) -> PathError {
        PathError::Unexpected {
            path: self.path.to_owned(),
            position: self.pos,
            expected,
            found: self
                .peek()
                .map_or_else(|| "end of path".to_owned(), |c| format!("`{c}`")),
        }
    }

    fn number(&mut self, expected: &'static str) -> Result<usize, PathError> {
        let start = self.pos;
        let mut value: usize = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(d as usize))
                .ok_or_else(|| self.bad_number(start))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected(expected));
        }
        if value == 0 {
            return Err(self.bad_number(start));
        }
        Ok(value)
    }

    fn bad_number(&self, position: usize) -> PathError {
        PathError::BadNumber {
            path: self.path.to_owned(),
            position,
        }
    }

    fn bracketed(&mut self, expected: &'static str) -> Result<Option<usize>, PathError> {
        if !self.eat('[') {
            return Ok(None);
        }
        let n = self.number(expected)?;
        if !self.eat(']') {
            return Err(self.unexpected("`]`"));
        }
        Ok(Some(n))
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Path, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        let mut c = Cursor {
            path: s,
            chars: s.chars().collect(),
            pos: 0,
        };
        for i in 0..3 {
            let ok = match c.peek() {
                Some(ch) if i == 0 => ch.is_ascii_uppercase(),
                Some(ch) => ch.is_ascii_uppercase() || ch.is_ascii_digit(),
                None => false,
            };
            if !ok {
                return Err(PathError::BadSegmentId {
                    path: s.to_owned(),
                    position: i,
                });
            }
            c.pos += 1;
        }
        let segment: String = c.chars[..3].iter().collect();
        let occurrence = c.bracketed("a segment occurrence")?.unwrap_or(1);
        let mut path = Path {
            segment,
            occurrence,
            field: None,
            repetition: None,
            component: None,
            subcomponent: None,
        };
        if c.eat('-') {
            path.field = Some(c.number("a field number")?);
            path.repetition = c.bracketed("a repetition number")?;
            if c.eat('.') {
                path.component = Some(c.number("a component number")?);
                if c.eat('.') {
                    path.subcomponent = Some(c.number("a subcomponent number")?);
                }
            }
        }
        if c.peek().is_some() {
            let expected = match (path.field, path.component, path.subcomponent) {
                (None, _, _) => "`[`, `-` or end of path",
                (Some(_), None, _) => "`[`, `.` or end of path",
                (Some(_), Some(_), None) => "`.` or end of path",
                _ => "end of path",
            };
            return Err(c.unexpected(expected));
        }
        Ok(path)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segment)?;
        if self.occurrence != 1 {
            write!(f, "[{}]", self.occurrence)?;
        }
        if let Some(field) = self.field {
            write!(f, "-{field}")?;
            if let Some(rep) = self.repetition {
                write!(f, "[{rep}]")?;
            }
            if let Some(comp) = self.component {
                write!(f, ".{comp}")?;
                if let Some(sub) = self.subcomponent {
                    write!(f, ".{sub}")?;
                }
            }
        }
        Ok(())
    }
}

impl Path {
    /// Resolves the path in `message`; `None` when the item is not there.
    pub fn resolve<'a>(&self, message: &Message<'a>) -> Option<Item<'a>> {
        let segment = message.segment(&self.segment, self.occurrence)?;
        let Some(field_no) = self.field else {
            return Some(Item::Segment(segment));
        };
        let field = segment.field(field_no)?;
        if self.repetition.is_none() && self.component.is_none() {
            return Some(Item::Field(field));
        }
        let rep = field.repetition(self.repetition.unwrap_or(1))?;
        let Some(comp_no) = self.component else {
            return Some(Item::Repetition(rep));
        };
        let comp = rep.component(comp_no)?;
        let Some(sub_no) = self.subcomponent else {
            return Some(Item::Component(comp));
        };
        comp.subcomponent(sub_no).map(Item::Subcomponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for (text, shown) in [
            ("PID-3[2].1.2", "PID-3[2].1.2"),
            ("OBR[1]-4.1", "OBR-4.1"),
            ("OBR[2]-4.1", "OBR[2]-4.1"),
            ("MSH-9.2", "MSH-9.2"),
            ("PID-5", "PID-5"),
            ("ZB1", "ZB1"),
        ] {
            let p: Path = text.parse().unwrap();
            assert_eq!(p.to_string(), shown);
            assert_eq!(shown.parse::<Path>().unwrap(), p);
        }
        let p: Path = "PID-3[2].1.2".parse().unwrap();
        assert_eq!(
            (
                p.occurrence,
                p.field,
                p.repetition,
                p.component,
                p.subcomponent
            ),
            (1, Some(3), Some(2), Some(1), Some(2))
        );
    }

    #[test]
    fn errors_say_where() {
        let pos = |s: &str| match s.parse::<Path>().unwrap_err() {
            PathError::BadSegmentId { position, .. }
            | PathError::Unexpected { position, .. }
            | PathError::BadNumber { position, .. } => position,
            PathError::Empty => usize::MAX,
        };
        assert_eq!(pos(""), usize::MAX);
        assert_eq!(pos("pid-3"), 0);
        assert_eq!(pos("PI"), 2);
        assert_eq!(pos("PID-"), 4);
        assert_eq!(pos("PID-x"), 4);
        assert_eq!(pos("PID-0"), 4);
        assert_eq!(pos("PID-3[2"), 7);
        assert_eq!(pos("PID-3.1.2.4"), 9);
        assert_eq!(pos("PID.3"), 3);
        assert_eq!(pos("PID-99999999999999999999999"), 4);
        let err = "PID-3x".parse::<Path>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected `[`, `.` or end of path at character 5 of `PID-3x`, found `x`"
        );
    }
}
