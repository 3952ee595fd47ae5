use hl7_runtime::codegen::Segment;
use hl7_runtime::types::Text;

#[derive(Default, Segment)]
#[hl7(id = "zab")]
struct Zab {
    #[hl7(position = 1)]
    code: Option<Text>,
}

fn main() {}
