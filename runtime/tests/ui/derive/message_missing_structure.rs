use hl7_runtime::codegen::{Message, Segment};
use hl7_runtime::types::Text;

#[derive(Default, Segment)]
#[hl7(id = "MSH")]
struct Msh {
    #[hl7(position = 1, usage = "R")]
    field_separator: Text,
}

#[derive(Default, Message)]
#[hl7(msg_type = "ZAB", event = "Z01")]
struct ZabZ01 {
    #[hl7(usage = "R", min = 2, max = 1)]
    msh: Msh,
}

fn main() {}
