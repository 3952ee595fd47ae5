use hl7_runtime::codegen::Segment;

#[derive(Default, Segment)]
#[hl7(id = "ZAB")]
struct Zab {
    #[hl7(position = 1, usage = "R")]
    code: String,
}

fn main() {}
