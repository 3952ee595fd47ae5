use hl7_runtime::codegen::Composite;
use hl7_runtime::types::Text;

#[derive(Default, Composite)]
#[hl7(datatype = "ZCD")]
struct Code {
    #[hl7(position = 1, usage = "R")]
    identifier: Text,
    #[hl7(position = 1)]
    text: Option<Text>,
    description: Option<Text>,
}

fn main() {}
