//! Bad configs exit 2 naming the key and line; unreadable sources exit 3 naming the
//! source and why; neither publishes anything.

use crate::util::{code, fails, stderr, Workdir};

fn with_config(cfg: &str) -> Workdir {
    let w = Workdir::with_default_pipeline();
    w.write("pipeline.toml", cfg);
    w
}

#[test]
fn unknown_key_exits_2_with_file_and_line() {
    let w = with_config("[[sources]]\npath = \"raw/turkic-trade.xlsx\"\nreportr = \"TUR\"\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.contains("pipeline.toml:3: unknown field `reportr`"),
        "{e}"
    );
    assert!(e.contains("reporter"), "lists the keys that are valid: {e}");
    assert!(!w.path().join("processed").exists());
}

#[test]
fn every_config_error_is_reported_at_once() {
    let w = with_config("[[sources]]\npath = \"raw/turkic-trade.xlsx\"\nreporter = \"Turkiyeh\"\ndecimal = \";\"\n\n[output]\nformats = [\"pdf\"]\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("pipeline.toml:3: sources[0].reporter: unknown country \"Turkiyeh\" (closest: turkiye (TUR)"), "{e}");
    assert!(e.contains("pipeline.toml:4: sources[0].decimal"), "{e}");
    assert!(
        e.contains("pipeline.toml:7: output.formats: unknown format \"pdf\""),
        "{e}"
    );
}

#[test]
fn missing_config_exits_2() {
    let w = Workdir::empty();
    let o = w.run(&["run", "--config", "nope.toml"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("nope.toml: cannot read the config"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_command_line_exits_2() {
    let w = Workdir::empty();
    assert_eq!(code(&w.run(&["frobnicate"])), 2);
}

#[test]
fn missing_source_file_exits_3_naming_it() {
    let w = with_config("[[sources]]\npath = \"raw/absent.xlsx\"\nreporter = \"TUR\"\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("source absent (raw/absent.xlsx): cannot read"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn zero_byte_file_exits_3() {
    let w = Workdir::empty();
    w.write("raw/empty.xlsx", "");
    fails(&w, "raw/empty.xlsx", "the file is empty (0 bytes)");
}

#[test]
fn html_page_saved_as_xlsx_exits_3_saying_so() {
    let w = Workdir::empty();
    w.write(
        "raw/page.xlsx",
        "<!DOCTYPE html><html><body>Service unavailable</body></html>",
    );
    fails(
        &w,
        "raw/page.xlsx",
        "the extension says .xlsx but the content is an HTML page",
    );
}

#[test]
fn truncated_xlsx_exits_3() {
    let w = with_config("[[sources]]\npath = \"raw/cut.xlsx\"\nreporter = \"TUR\"\n");
    let bytes = std::fs::read(w.path().join("raw/turkic-trade.xlsx")).unwrap();
    w.write("raw/cut.xlsx", &bytes[..bytes.len() / 2]);
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("source cut (raw/cut.xlsx): cannot open the workbook"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_sheet_lists_the_sheets_that_exist() {
    let w = with_config("[[sources]]\npath = \"raw/turkic-trade.xlsx\"\nreporter = \"TUR\"\nsheet = \"Turkmenistan\"\n");
    let o = w.run(&["run"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("no sheet \"Turkmenistan\"; the workbook has \"Azerbaijan\", \"Kazakhstan\", \"Uzbekistan\", \"Kyrgyzstan\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_bad_source_leaves_previous_outputs_untouched() {
    let w = Workdir::with_default_pipeline();
    assert_eq!(code(&w.run(&["run"])), 0);
    let before = w.snapshot("processed");
    std::fs::write(w.path().join("raw/turkic-trade.xlsx"), b"garbage").unwrap();
    assert_eq!(code(&w.run(&["run"])), 3);
    assert_eq!(w.snapshot("processed"), before);
}
