// A view has the profile's shape too: a field the profile excludes has no accessor, and a
// required one is not an `Option`.
use hl7_runtime::codegen::{Segment, Text};
use hl7_runtime::er7::Message;
use hl7_runtime::typed::Node;

#[derive(Default, Segment)]
#[hl7(id = "ZAB", exclude(position = 2, name = "Retired"))]
pub struct Zab {
    #[hl7(position = 1, usage = "R")]
    pub code: Text,
}

fn main() {
    let message = Message::parse("MSH|^~\\&|A|B|C|D|20240101||ZZZ^Z01|1|P|2.5.1\rZAB|x|y").unwrap();
    let zab = Zab::view_node(None, &message);
    let _code: Option<_> = zab.code();
    let _excluded = zab.retired();
}
