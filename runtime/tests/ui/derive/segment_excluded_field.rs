use hl7_runtime::codegen::Segment;
use hl7_runtime::types::Text;

#[derive(Default, Segment)]
#[hl7(id = "ZAB")]
struct Zab {
    #[hl7(position = 1, usage = "X")]
    retired: Option<Text>,
}

fn main() {}
