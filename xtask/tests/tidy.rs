//! The house rules, checked on every `cargo test`.

use std::path::Path;

#[test]
fn engine_crates_depend_on_no_io_runtime() {
    let problems = xtask::tidy::purity_of_dependencies(&xtask::workspace_root());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn engine_crates_call_no_io_apis() {
    let problems = xtask::tidy::purity_of_sources(&xtask::workspace_root());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn architecture_md_names_every_crate() {
    let problems = xtask::tidy::architecture_names_every_crate(&xtask::workspace_root());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_checks_can_fail() {
    // A pure crate list entry that does not exist is reported, so the graph walk really runs.
    let temp = std::env::temp_dir().join(format!("kumo-tidy-{}", std::process::id()));
    std::fs::create_dir_all(temp.join("crates/kumo-unnamed")).unwrap();
    std::fs::write(temp.join("ARCHITECTURE.md"), "nothing here").unwrap();
    let problems = xtask::tidy::architecture_names_every_crate(Path::new(&temp));
    assert_eq!(
        problems,
        vec!["ARCHITECTURE.md does not name crate `kumo-unnamed`".to_owned()]
    );
    std::fs::remove_dir_all(&temp).unwrap();
}
