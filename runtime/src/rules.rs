//! A profile as static rules: what the validator checks.
//!
//! Generated code describes its profile with these (as `const` data written by the derives), and
//! a profile loaded at run time is turned into the same shape, so one validator serves both.
//! Every slice and string is `'static`: generated rules live in the binary, run-time rules are
//! built once per loaded profile and leaked (see [`leak`]).

/// How an element is used (HL7 v2 conformance usage codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    /// Required.
    R,
    /// Required, may be empty.
    RE,
    /// Optional.
    O,
    /// Conditional.
    C,
    /// Conditional, may be empty.
    CE,
    /// Not supported: must not be sent.
    X,
    /// Backward compatible.
    B,
    /// Withdrawn.
    W,
}

impl Usage {
    /// Parses a usage code as written in profiles.
    pub fn from_code(code: &str) -> Option<Usage> {
        Some(match code {
            "R" => Usage::R,
            "RE" => Usage::RE,
            "O" => Usage::O,
            "C" => Usage::C,
            "CE" => Usage::CE,
            "X" => Usage::X,
            "B" => Usage::B,
            "W" => Usage::W,
            _ => return None,
        })
    }

    /// The code as written in profiles.
    pub fn code(self) -> &'static str {
        match self {
            Usage::R => "R",
            Usage::RE => "RE",
            Usage::O => "O",
            Usage::C => "C",
            Usage::CE => "CE",
            Usage::X => "X",
            Usage::B => "B",
            Usage::W => "W",
        }
    }

    /// True for `X` and `W`: the element must not be sent.
    pub fn is_excluded(self) -> bool {
        matches!(self, Usage::X | Usage::W)
    }
}

/// What a primitive value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// Free text and codes (ST, TX, FT, ID, IS, ...): no format.
    Text,
    /// NM: an optional sign, digits, an optional decimal point.
    Number,
    /// SI: a non-negative integer.
    SequenceId,
    /// DT: `YYYY[MM[DD]]`.
    Date,
    /// TM: `HH[MM[SS[.S[S[S[S]]]]]][+/-ZZZZ]`.
    Time,
    /// DTM (and a primitive TS): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
    DateTime,
    /// `varies` (OBX-5): typed by another field; kept as written.
    Varies,
    /// A composite: checked through its children.
    Composite,
}

impl Primitive {
    /// The check for a datatype name; flavours (`CE_IZ`, `HD_IZ_0361`) use their base type.
    ///
    /// A `const fn`, so derived rules compute it at compile time.
    pub const fn for_datatype(datatype: &str) -> Primitive {
        let bytes = datatype.as_bytes();
        let mut end = 0;
        while end < bytes.len() && bytes[end] != b'_' {
            end += 1;
        }
        let (b, n) = (bytes, end);
        if eq_ignore_case(b, n, b"NM") {
            Primitive::Number
        } else if eq_ignore_case(b, n, b"SI") {
            Primitive::SequenceId
        } else if eq_ignore_case(b, n, b"DT") {
            Primitive::Date
        } else if eq_ignore_case(b, n, b"TM") {
            Primitive::Time
        } else if eq_ignore_case(b, n, b"DTM") || eq_ignore_case(b, n, b"TS") {
            Primitive::DateTime
        } else if eq_ignore_case(b, n, b"VARIES") {
            Primitive::Varies
        } else {
            Primitive::Text
        }
    }
}

const fn eq_ignore_case(bytes: &[u8], len: usize, name: &[u8]) -> bool {
    if len != name.len() {
        return false;
    }
    let mut i = 0;
    while i < len {
        if bytes[i].to_ascii_uppercase() != name[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Who owns a table's codes, which decides how strictly they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// Defined by HL7 (used by `ID`): a value outside is an error.
    Hl7,
    /// User-defined (used by `IS`, `CWE`): the base codes are suggestions; outside is a warning.
    User,
    /// Defined by the site profile: a value outside is an error.
    Site,
}

/// A table or value set an element is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRule {
    /// Table id as the profile writes it, e.g. `0001`.
    pub id: &'static str,
    /// Table name.
    pub name: &'static str,
    /// Who owns the codes.
    pub kind: TableKind,
    /// Codes with their descriptions, sorted by code.
    pub codes: &'static [(&'static str, &'static str)],
    /// A hash index of `codes`, as [`table_index`] or [`fill_table_index`] build it; empty to
    /// binary-search the codes instead.
    ///
    /// Most valued coded elements are looked up, many in tables of a hundred codes or more: one
    /// hash and a compare or two beat eight probes of a binary search, each a mispredicted
    /// branch.
    pub index: &'static [u16],
}

impl TableRule {
    /// True when `code` is in the table.
    #[inline]
    pub fn contains(&self, code: &str) -> bool {
        if self.index.is_empty() {
            return self.position(code).is_some();
        }
        let code = code.as_bytes();
        let mask = self.index.len() - 1;
        let mut slot = index_hash(code) as usize & mask;
        // At most one full turn, so that an index built by hand with no free slot still ends.
        for _ in 0..self.index.len() {
            let Some(entry) = self
                .index
                .get(slot)
                .and_then(|&e| usize::from(e).checked_sub(1))
            else {
                return false;
            };
            if self
                .codes
                .get(entry)
                .is_some_and(|(c, _)| eq_short(c.as_bytes(), code))
            {
                return true;
            }
            slot = (slot + 1) & mask;
        }
        false
    }

    /// The description of a code.
    pub fn describe(&self, code: &str) -> Option<&'static str> {
        Some(self.codes[self.position(code)?].1)
    }

    /// Index of `code` in the sorted codes. Codes are a few bytes long: they are compared in
    /// line, byte by byte, rather than through a `memcmp` call per probe.
    #[inline]
    fn position(&self, code: &str) -> Option<usize> {
        let code = code.as_bytes();
        self.codes
            .binary_search_by(|(c, _)| compare_short(c.as_bytes(), code))
            .ok()
    }
}

/// Slots in the hash index of `count` codes: a power of two at least twice `count`, so that
/// probe runs stay short; 0 (no index) for no codes, or too many for a `u16` entry.
pub const fn table_index_len(count: usize) -> usize {
    if count == 0 || count >= u16::MAX as usize {
        0
    } else {
        (count * 2).next_power_of_two()
    }
}

/// The hash index of `codes` in `N` slots (`N` from [`table_index_len`]), at compile time:
/// generated tables write `index: &table_index::<N>(CODES)`.
pub const fn table_index<const N: usize>(codes: &[(&str, &str)]) -> [u16; N] {
    let mut slots = [0u16; N];
    fill_table_index(codes, &mut slots);
    slots
}

/// Fills `slots` (all 0, as many as [`table_index_len`] says) with the hash index of `codes`:
/// open addressing with linear probing, each entry the code's index plus one, 0 for free.
/// Leaves `slots` as it is when their number is not a power of two above the number of codes.
pub const fn fill_table_index(codes: &[(&str, &str)], slots: &mut [u16]) {
    let len = slots.len();
    if !len.is_power_of_two() || len <= codes.len() || codes.len() >= u16::MAX as usize {
        return;
    }
    let mask = len - 1;
    let mut i = 0;
    while i < codes.len() {
        let mut slot = index_hash(codes[i].0.as_bytes()) as usize & mask;
        while slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        slots[slot] = (i + 1) as u16;
        i += 1;
    }
}

/// The hash of a code for the table index: FNV-1a, then a multiply so the low bits (the slot)
/// depend on every byte. Fixed, so an index built at compile time reads the same at run time.
#[inline]
const fn index_hash(code: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < code.len() {
        h = (h ^ code[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
}

/// Equality of short strings, in line: a `memcmp` call costs more than comparing the few bytes
/// of a code.
#[inline]
fn eq_short(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The order of `str` (bytewise, then by length), for short strings.
#[inline]
fn compare_short(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A field, component or subcomponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementRule {
    /// 1-based position.
    pub position: u16,
    /// Descriptive name, e.g. `Patient Identifier List`.
    pub name: &'static str,
    /// Usage.
    pub usage: Usage,
    /// Minimum repetitions (fields); 0 or 1 for components.
    pub min: u32,
    /// Maximum repetitions; `u32::MAX` is unbounded.
    pub max: u32,
    /// Datatype as the profile states it.
    pub datatype: &'static str,
    /// Format check of a primitive value.
    pub primitive: Primitive,
    /// Minimum length in characters, 0 when not stated.
    pub min_length: u32,
    /// Maximum length in characters, when stated.
    pub max_length: Option<u32>,
    /// Bound table, when its codes are known.
    pub table: Option<&'static TableRule>,
    /// Bound table id as stated, also when its codes are unknown.
    pub table_id: Option<&'static str>,
    /// The value the element must have.
    pub constant: Option<&'static str>,
    /// The predicate of a `C`/`CE` usage, as text.
    pub condition: Option<&'static str>,
    /// The predicate in a form the validator evaluates, when the profile gives one.
    pub predicate: Option<&'static Predicate>,
    /// Components or subcomponents; empty for a primitive.
    pub children: &'static [ElementRule],
}

impl ElementRule {
    /// A rule with every constraint open: for building rules field by field.
    pub const OPEN: ElementRule = ElementRule {
        position: 0,
        name: "",
        usage: Usage::O,
        min: 0,
        max: 1,
        datatype: "ST",
        primitive: Primitive::Text,
        min_length: 0,
        max_length: None,
        table: None,
        table_id: None,
        constant: None,
        condition: None,
        predicate: None,
        children: &[],
    };

    /// True when the element may repeat.
    pub fn repeats(&self) -> bool {
        self.max > 1
    }
}

/// An evaluable predicate of a conditional (`C`/`CE`) element: which usage applies when the
/// condition holds and when it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Predicate {
    /// The condition.
    pub condition: Condition,
    /// Usage when it holds (`R` for plain `C`, `RE` for `CE`, unless the profile says).
    pub when_true: Usage,
    /// Usage when it does not (`X` unless the profile says).
    pub when_false: Usage,
}

/// A condition on other elements of the same segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The element is valued.
    Valued(Place),
    /// The element has this value.
    Equals(Place, &'static str),
    /// The condition does not hold.
    Not(&'static Condition),
    /// Every condition holds.
    All(&'static [Condition]),
    /// Some condition holds.
    Any(&'static [Condition]),
}

/// Where a condition looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Another child of the same parent (NIST's `./2`): a component beside a component, a field
    /// beside a field.
    Sibling(u16),
    /// A field, component or subcomponent of a segment (`PID-3.1`); evaluated when it is the
    /// segment being checked.
    Field {
        /// Segment id.
        segment: &'static str,
        /// Field number.
        field: u16,
        /// Component number, 0 for the whole field.
        component: u16,
        /// Subcomponent number, 0 for the whole component.
        subcomponent: u16,
    },
}

/// A segment as the profile constrains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRule {
    /// Segment id, e.g. `PID`.
    pub id: &'static str,
    /// Descriptive name.
    pub name: &'static str,
    /// Fields sorted by position, excluded (`X`) ones included so their presence is reported.
    pub fields: &'static [ElementRule],
}

impl SegmentRule {
    /// The rule of field `position`.
    pub fn field(&self, position: usize) -> Option<&'static ElementRule> {
        self.fields
            .iter()
            .find(|f| usize::from(f.position) == position)
    }
}

/// A segment or group at its place in a message or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRule {
    /// The segment or group.
    pub kind: NodeKind,
    /// Usage at this place.
    pub usage: Usage,
    /// Minimum occurrences.
    pub min: u32,
    /// Maximum occurrences; `u32::MAX` is unbounded.
    pub max: u32,
}

/// What a [`NodeRule`] places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A segment.
    Segment(&'static SegmentRule),
    /// A group.
    Group(&'static GroupRule),
}

impl NodeRule {
    /// Segment id or group name.
    pub fn name(&self) -> &'static str {
        match self.kind {
            NodeKind::Segment(rule) => rule.id,
            NodeKind::Group(rule) => rule.name,
        }
    }
}

/// A group of segments and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRule {
    /// Group name, e.g. `PATIENT_RESULT`.
    pub name: &'static str,
    /// Children in order.
    pub children: &'static [NodeRule],
}

/// A message structure as one profile constrains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRule {
    /// Profile or site name.
    pub profile: &'static str,
    /// HL7 version, e.g. `2.5.1`.
    pub version: &'static str,
    /// MSH-9.1.
    pub msg_type: &'static str,
    /// MSH-9.2.
    pub event: &'static str,
    /// MSH-9.3.
    pub structure: &'static str,
    /// Top-level segments and groups.
    pub children: &'static [NodeRule],
}

/// Moves a value built at run time into `'static` storage.
///
/// Run-time profiles are loaded once per process (a validator command, an engine's start-up), so
/// leaking them is the cost of sharing one rule type with generated code.
pub fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// Moves a vector built at run time into a `'static` slice (see [`leak`]).
pub fn leak_slice<T>(values: Vec<T>) -> &'static [T] {
    Box::leak(values.into_boxed_slice())
}

/// Moves a string built at run time into `'static` storage (see [`leak`]).
pub fn leak_str(value: impl Into<String>) -> &'static str {
    Box::leak(value.into().into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    static CODES: &[(&str, &str)] = &[
        ("", "empty"),
        ("A", "a"),
        ("A01", "admit"),
        ("A02", "transfer"),
        ("AB", "ab"),
        ("HL70001", "a table"),
        ("Z", "z"),
        ("ÄÖ", "umlauts"),
    ];

    static INDEXED: TableRule = TableRule {
        id: "9999",
        name: "test",
        kind: TableKind::Hl7,
        codes: CODES,
        index: &table_index::<{ table_index_len(8) }>(CODES),
    };

    #[test]
    fn the_index_agrees_with_the_sorted_codes() {
        let searched = TableRule {
            index: &[],
            ..INDEXED
        };
        assert_eq!(INDEXED.index.len(), 16);
        let probes = [
            "", "A", "A0", "A01", "A03", "AB", "ABC", "B", "HL70001", "Z", "ÄÖ", "a",
        ];
        for probe in probes {
            assert_eq!(
                INDEXED.contains(probe),
                searched.contains(probe),
                "{probe:?}"
            );
        }
        for (code, _) in CODES {
            assert!(INDEXED.contains(code), "{code:?}");
        }
    }

    #[test]
    fn a_run_time_index_is_the_compile_time_one() {
        let mut slots = vec![0u16; table_index_len(CODES.len())];
        fill_table_index(CODES, &mut slots);
        assert_eq!(slots, INDEXED.index);
        // Too few slots, or not a power of two: no index, not a wrong one.
        let mut short = vec![0u16; 8];
        fill_table_index(CODES, &mut short);
        assert!(short.iter().all(|&s| s == 0));
    }
}
