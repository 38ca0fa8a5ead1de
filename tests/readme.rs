//! The README's API table must say exactly what ApiVersions advertises.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use vltava::handlers::APIS;

#[test]
fn readme_api_table_matches_the_handler_registry() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- api-table -->").expect("api table start");
    let end = readme.find("<!-- /api-table -->").expect("api table end");
    let mut rows: Vec<(i16, i16, i16)> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.contains("---") && !l.contains("| API |"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let key: i16 = cells[2].parse().expect("key");
            let (min, max) = cells[3].split_once('-').expect("min-max");
            (key, min.parse().unwrap(), max.parse().unwrap())
        })
        .collect();
    let mut advertised: Vec<(i16, i16, i16)> = APIS
        .iter()
        .map(|s| (s.key as i16, s.min_version, s.max_version))
        .collect();
    rows.sort();
    advertised.sort();
    assert_eq!(rows, advertised, "README API table vs handlers::APIS");
}

#[test]
fn readme_settings_table_lists_known_keys() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- settings-table -->")
        .expect("settings table");
    let end = readme
        .find("<!-- /settings-table -->")
        .expect("settings table end");
    for line in readme[start..end].lines().filter(|l| l.starts_with("| `")) {
        for key in line.split('|').nth(1).unwrap().split('/') {
            let key = key.trim().trim_matches('`');
            assert!(
                vltava::config::is_known(key),
                "README documents unknown key {key}"
            );
        }
    }
}
