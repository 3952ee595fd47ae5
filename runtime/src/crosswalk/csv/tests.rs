use super::*;

const HEAD: &str = "from_system,from_code,to_system,to_code,to_display";

fn rows(text: &str) -> Vec<[String; 5]> {
    let file = parse("x.csv", text).unwrap_or_else(|e| panic!("{e}"));
    file.rows
        .into_iter()
        .map(|r| {
            [
                r.from_system,
                r.from_code,
                r.to_system,
                r.to_code,
                r.to_display,
            ]
        })
        .collect()
}

fn first_error(text: &str) -> (u32, u32, String) {
    let error = parse("x.csv", text).expect_err("refused");
    let e = &error.located()[0];
    (e.line, e.col, e.message.clone())
}

#[test]
fn quoted_fields_hold_commas_quotes_and_line_breaks() {
    let text = format!(
        "# policy: pass\n{HEAD}\nL,A,S,1,\"a, b\"\nL,B,S,2,\"say \"\"hi\"\"\"\nL,C,S,3,\"two\nlines\"\nL,D,S,4,last\n"
    );
    let rows = rows(&text);
    assert_eq!(rows[0][4], "a, b");
    assert_eq!(rows[1][4], "say \"hi\"");
    assert_eq!(rows[2][4], "two\nlines");
    assert_eq!(rows[3][1], "D");
    let file = parse("x.csv", &text).expect("reads");
    assert_eq!(
        file.rows[3].cells[1],
        Pos { line: 7, col: 3 },
        "lines are counted inside quotes"
    );
}

#[test]
fn crlf_bom_blank_lines_comments_and_trimming() {
    let text = format!("\u{feff}# Maps local codes.\r\n# policy: reject\r\n\r\n{HEAD}\r\n# a comment\r\n L , A ,S,1, One \r\n");
    assert_eq!(
        rows(&text),
        vec![["L", "A", "S", "1", "One"].map(str::to_owned)]
    );
    let file = parse("x.csv", &text).expect("reads");
    assert_eq!(file.policy_pos, Pos { line: 2, col: 11 });
    assert_eq!(file.rows[0].cells[1], Pos { line: 6, col: 6 });
    assert_eq!(file.line_text(6), Some(" L , A ,S,1, One "));
}

#[test]
fn a_missing_last_line_break_and_a_trailing_empty_field() {
    assert_eq!(
        rows(&format!("# policy: pass\n{HEAD}\nL,A,S,1,")),
        vec![["L", "A", "S", "1", ""].map(str::to_owned)]
    );
}

#[test]
fn policies() {
    let policy =
        |p: &str| parse("x.csv", &format!("# policy: {p}\n{HEAD}\n")).map(|f| f.policy.to_string());
    assert_eq!(policy("reject").expect("ok"), "reject");
    assert_eq!(policy("pass").expect("ok"), "pass");
    assert_eq!(
        policy("default HL70001|U|Unknown").expect("ok"),
        "default HL70001|U|Unknown"
    );
    assert_eq!(policy("default |U|").expect("ok"), "default |U|");
    assert_eq!(policy("default a|b|c|d").expect("ok"), "default a|b|c|d");
    for bad in [
        "",
        "reject now",
        "default",
        "default U",
        "default a||c",
        "map",
    ] {
        assert!(policy(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn header_and_directive_mistakes_are_located() {
    assert_eq!(
        first_error("# policy: pass\nfrom_system,code,to_system,to_code,to_display\n"),
        (
            2,
            13,
            "expected column `from_code`, found `code`".to_owned()
        )
    );
    assert_eq!(
        first_error("# policy: pass\n"),
        (2, 1, "the crosswalk has no header row".to_owned())
    );
    assert_eq!(
        first_error(&format!("# policy: pass\n# policy: reject\n{HEAD}\n")),
        (2, 3, "the directive `policy` is given twice".to_owned())
    );
    assert_eq!(
        first_error(&format!("# policy: pass\n{HEAD}\n# to_table: 0001\n")),
        (
            3,
            3,
            "the directive `to_table` comes after the header row".to_owned()
        )
    );
    assert_eq!(
        first_error(&format!("# policy: pass\n{HEAD}\nL,A\"B,S,1,x\n")),
        (3, 4, "a quote inside an unquoted field".to_owned())
    );
    assert_eq!(
        first_error(&format!("# policy: pass\n{HEAD}\nL,A,S,1,x,extra\n")),
        (3, 11, "this row has 6 fields; expected 5".to_owned())
    );
    assert_eq!(
        first_error(&format!("# policy: pass\n# from_table:\n{HEAD}\n")),
        (2, 14, "the directive has no value".to_owned())
    );
}

#[test]
fn an_empty_system_is_its_own_key() {
    let text = format!("# policy: pass\n{HEAD}\n,A,S,1,x\nL,A,S,2,y\n");
    assert_eq!(rows(&text).len(), 2);
    assert_eq!(
        first_error(&format!("# policy: pass\n{HEAD}\n,A,S,1,x\n,A,S,2,y\n")),
        (4, 2, "`A` is mapped twice".to_owned())
    );
}
