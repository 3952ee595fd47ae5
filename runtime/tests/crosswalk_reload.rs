//! Reloading a compiled crosswalk from a file at run time: new codes visible, a bad file refused
//! while the old table keeps answering, reset, and readers during reloads.

use std::path::PathBuf;

use hl7_runtime::crosswalk::{Crosswalk, MapKind, Policy, Row, TableRef};

/// Table 0001 of HL7 2.5.1, as the generator compiles a `# to_table: 0001` in.
const TABLE_0001: TableRef = TableRef::known("0001", &["A", "F", "M", "N", "O", "U"]);

const SEX_ROWS: &[Row] = &[
    Row::new("", "1", "HL70001", "M", "Male"),
    Row::new("", "2", "HL70001", "F", "Female"),
];

/// A fresh compiled crosswalk per test, as a generated static would be.
fn sex() -> Crosswalk {
    Crosswalk::new("acme_sex", Policy::Reject, SEX_ROWS, None, Some(TABLE_0001))
}

/// A file of this test in the target's temporary folder.
fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hl7-crosswalk-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writes");
    path
}

const HEADER: &str = "from_system,from_code,to_system,to_code,to_display\n";

#[test]
fn a_reload_makes_new_codes_visible_and_a_bad_file_keeps_the_old_table() {
    let sex = sex();
    assert!(sex.lookup("", "3").is_err());

    let good = write(
        "sex_v2.csv",
        &format!("# policy: default HL70001|U|Unknown\n# to_table: 0001\n{HEADER},1,HL70001,M,Male\n,2,HL70001,F,Female\n,3,HL70001,O,Other\n"),
    );
    let stats = sex
        .reload_from_file(&good)
        .expect("a sound file is put in use");
    assert_eq!(
        (
            stats.rows,
            stats.added,
            stats.removed,
            stats.changed,
            stats.policy_changed
        ),
        (3, 1, 0, 0, true)
    );
    assert!(sex.is_reloaded());
    assert_eq!(sex.lookup("", "3").expect("new code").code, "O");
    assert_eq!(
        sex.lookup("", "9").expect("default").kind,
        MapKind::Defaulted
    );

    let broken = write(
        "sex_broken.csv",
        &format!("# policy: reject\n# to_table: 0001\n{HEADER},1,HL70001,M\n"),
    );
    let error = sex.reload_from_file(&broken).unwrap_err();
    assert_eq!(error.located()[0].line, 4);
    assert_eq!(
        sex.lookup("", "3")
            .expect("the old table still answers")
            .code,
        "O"
    );

    let outside = write(
        "sex_outside.csv",
        &format!("# policy: reject\n# to_table: 0001\n{HEADER},1,HL70001,X,Male\n"),
    );
    let error = sex.reload_from_file(&outside).unwrap_err();
    let located = &error.located()[0];
    assert_eq!(
        (located.line, located.col, located.message.as_str()),
        (4, 12, "code `X` is not in table 0001")
    );
    assert_eq!(
        sex.lookup("", "1").expect("still the reloaded table").code,
        "M"
    );

    let other_table = write(
        "sex_other.csv",
        &format!("# policy: reject\n# to_table: 0002\n{HEADER},1,HL70002,M,Married\n"),
    );
    let error = sex.reload_from_file(&other_table).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`acme_sex` was compiled with `# to_table: 0001`"),
        "{error}"
    );

    sex.reset();
    assert!(!sex.is_reloaded());
    assert!(sex.lookup("", "3").is_err());
    assert_eq!(sex.lookup("", "1").expect("compiled").code, "M");
}

#[test]
fn reload_stats_count_changes() {
    let sex = sex();
    let path = write(
        "sex_changed.csv",
        &format!(
            "# policy: reject\n# to_table: 0001\n{HEADER},1,HL70001,M,Male\n,2,HL70001,U,Unknown\n"
        ),
    );
    let stats = sex.reload_from_file(&path).expect("reloads");
    assert_eq!(
        (
            stats.rows,
            stats.added,
            stats.removed,
            stats.changed,
            stats.policy_changed
        ),
        (2, 0, 0, 1, false)
    );
    let path = write(
        "sex_fewer.csv",
        &format!("# policy: reject\n# to_table: 0001\n{HEADER},1,HL70001,M,Male\n"),
    );
    let stats = sex.reload_from_file(&path).expect("reloads");
    assert_eq!(
        (stats.rows, stats.added, stats.removed, stats.changed),
        (1, 0, 1, 0)
    );
}

#[test]
fn readers_see_the_old_table_or_the_new_one_during_reloads() {
    let sex = sex();
    let a = write(
        "sex_a.csv",
        &format!(
            "# policy: reject\n# to_table: 0001\n{HEADER},1,HL70001,M,Male\n,2,HL70001,F,Female\n"
        ),
    );
    let b = write("sex_b.csv", &format!("# policy: reject\n# to_table: 0001\n{HEADER},1,HL70001,U,Unknown\n,2,HL70001,U,Unknown\n"));
    let bad = write("sex_bad.csv", "# policy: reject\nfrom_system\n");
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                for _ in 0..2_000 {
                    let one = sex.lookup("", "1").expect("always mapped");
                    let two = sex.lookup("", "2").expect("always mapped");
                    assert!(matches!(&*one.code, "M" | "U"), "{one:?}");
                    assert!(matches!(&*two.code, "F" | "U"), "{two:?}");
                }
            });
        }
        for i in 0..200 {
            let path = if i % 2 == 0 { &a } else { &b };
            sex.reload_from_file(path).expect("reloads");
            assert!(sex.reload_from_file(&bad).is_err());
            if i % 50 == 0 {
                sex.reset();
            }
        }
    });
}
