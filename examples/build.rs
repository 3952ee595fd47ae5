//! Generates the example hospital's site types from its profiles.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    hl7_codegen::Config::new()
        .site("acme_lab")
        .profiles_in("profiles/acme_lab")
        .crosswalks_in("vocab/acme_lab")
        .site("st_marys")
        .profiles_in("profiles/st_marys")
        .compile()?;
    Ok(())
}
