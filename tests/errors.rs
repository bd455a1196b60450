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

#[test]
fn of_two_broken_sheets_read_in_parallel_the_first_is_named_every_time() {
    use std::io::{Read, Write};
    // the shipped workbook (4 sheets) with its 2nd and 4th sheets cut in half: the
    // sheets are read on every core, and whichever reader meets which broken sheet
    // first, the error names the first broken sheet of the workbook
    let w = with_config("[[sources]]\npath = \"raw/broken.xlsx\"\nreporter = \"TUR\"\n");
    let src = std::fs::File::open(w.path().join("raw/turkic-trade.xlsx")).unwrap();
    let mut zin = zip::ZipArchive::new(src).unwrap();
    let out = std::fs::File::create(w.path().join("raw/broken.xlsx")).unwrap();
    let mut zout = zip::ZipWriter::new(out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "xl/worksheets/sheet2.xml" || name == "xl/worksheets/sheet4.xml" {
            data.truncate(data.len() / 2);
        }
        zout.start_file(name, opts).unwrap();
        zout.write_all(&data).unwrap();
    }
    zout.finish().unwrap();
    for _ in 0..5 {
        let o = w.run(&["run"]);
        assert_eq!(code(&o), 3, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("source broken (raw/broken.xlsx): sheet \"Kazakhstan\": "),
            "{}",
            stderr(&o)
        );
        assert!(!w.path().join("processed").exists(), "nothing published");
    }
}
