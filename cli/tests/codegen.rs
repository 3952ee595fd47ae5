//! `hl7 codegen`: the generator outside `build.rs`.

mod common;

use std::path::Path;

use common::hl7;

#[test]
fn writes_the_site_module() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen_acme");
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_str().expect("a UTF-8 temp path");
    let run = hl7(&[
        "codegen",
        "--site",
        "acme",
        "--profile",
        "tests/fixtures/site/acme_lab_oru_r01.xml",
        "--out",
        out_arg,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let written = out.join("acme.rs");
    let code = std::fs::read_to_string(&written).expect("acme.rs is written");
    assert!(
        code.starts_with("// @generated"),
        "{}",
        &code[..code.len().min(200)]
    );
    assert!(code.contains("pub mod oru_r01"), "one module per profile");
    assert!(
        run.stdout()
            .ends_with(&format!("wrote {}\n", written.display())),
        "{}",
        run.stdout()
    );
}

#[test]
fn several_profiles_make_one_site() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen_two");
    let _ = std::fs::remove_dir_all(&out);
    let run = hl7(&[
        "codegen",
        "--site",
        "two",
        "--profile",
        "tests/fixtures/site/acme_lab_oru_r01.xml",
        "--profile",
        "tests/fixtures/profiles/nist_VXU_V04_v251_immunization_NIST_ext.xml",
        "--out",
        out.to_str().expect("a UTF-8 temp path"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let code = std::fs::read_to_string(out.join("two.rs")).expect("two.rs is written");
    assert!(code.contains("pub mod oru_r01") && code.contains("pub mod vxu_v04"));
}

#[test]
fn a_malformed_profile_is_a_located_error() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen_bad");
    let run = hl7(&[
        "codegen",
        "--site",
        "bad",
        "--profile",
        "tests/fixtures/malformed/site_unknown_structure.xml",
        "--out",
        out.to_str().expect("a UTF-8 temp path"),
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("--> tests/fixtures/malformed/site_unknown_structure.xml:"),
        "{}",
        run.stderr
    );
    assert!(!out.join("bad.rs").exists());
}
