//! Where a problem sits in a message: the value behind an ERR-2 (ERL) and a byte offset.

use std::fmt;

use compact_str::CompactString;

/// Location of a problem in a message; fills an ERR-2 (ERL) and says the byte offset.
///
/// Displays like `PID(2)-3[2].1.2 @ byte 123`: the segment id, its 1-based position in the
/// message in parentheses, then the field, `[repetition]`, component and subcomponent that are
/// known. Absent parts are omitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// 1-based position of the segment in the message (0 when not known).
    pub segment_index: usize,
    /// Segment id, e.g. `PID` (empty when not known); held inline, as every short string of a
    /// problem is, so that reporting one allocates nothing.
    pub segment_id: CompactString,
    /// 1-based field number.
    pub field: Option<usize>,
    /// 1-based repetition number.
    pub repetition: Option<usize>,
    /// 1-based component number.
    pub component: Option<usize>,
    /// 1-based subcomponent number.
    pub subcomponent: Option<usize>,
    /// Byte offset of the problem in the message text.
    pub byte_offset: usize,
}

impl Location {
    /// A location that only knows a byte offset.
    pub fn at_byte(byte_offset: usize) -> Location {
        Location {
            byte_offset,
            ..Location::default()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let has_segment = !self.segment_id.is_empty() || self.segment_index > 0;
        if has_segment {
            f.write_str(&self.segment_id)?;
            if self.segment_index > 0 {
                write!(f, "({})", self.segment_index)?;
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
            f.write_str(" @ ")?;
        }
        write!(f, "byte {}", self.byte_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_full_and_partial() {
        let loc = Location {
            segment_index: 2,
            segment_id: "PID".into(),
            field: Some(3),
            repetition: Some(2),
            component: Some(1),
            subcomponent: Some(2),
            byte_offset: 123,
        };
        assert_eq!(loc.to_string(), "PID(2)-3[2].1.2 @ byte 123");
        let loc = Location {
            segment_index: 1,
            segment_id: "MSH".into(),
            field: Some(9),
            component: Some(2),
            byte_offset: 40,
            ..Location::default()
        };
        assert_eq!(loc.to_string(), "MSH(1)-9.2 @ byte 40");
        assert_eq!(Location::at_byte(7).to_string(), "byte 7");
    }
}
