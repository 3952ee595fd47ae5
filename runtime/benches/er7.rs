//! ER7 benchmark (placeholder).
fn main() {}
