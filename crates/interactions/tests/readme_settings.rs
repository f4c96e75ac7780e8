//! The settings example in the README is a valid settings file, so the documentation cannot drift from
//! what `Settings` accepts.

#![allow(clippy::unwrap_used)]

use interactions::Settings;

#[test]
fn the_readme_settings_example_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = &readme[readme.find("## Settings").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let settings = Settings::from_toml(example).unwrap();
    assert_eq!(settings.records.max_event_bytes, 1 << 20);
    assert_eq!(settings.records.max_record_bytes, 64 << 20);
    assert_eq!(settings.records, Settings::default().records, "the example shows the defaults");
    assert!(Settings::from_toml("[records]\nmax_event_bytes = 5\nmax_recod_bytes = 1").is_err(), "misspelt keys fail");
}
