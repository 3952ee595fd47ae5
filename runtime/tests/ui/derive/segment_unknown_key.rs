use hl7_runtime::codegen::Segment;
use hl7_runtime::types::Text;

#[derive(Default, Segment)]
#[hl7(id = "ZAB")]
struct Zab {
    #[hl7(positon = 1, usage = "R")]
    code: Text,
}

fn main() {}
