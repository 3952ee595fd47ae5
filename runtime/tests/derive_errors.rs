//! Misuse of the derives is a compile error at the user's tokens, never a panic.

#[test]
fn derive_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/derive/*.rs");
}
