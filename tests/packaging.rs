//! Packaging facts a build cannot check by itself: the Dockerfile builds on the Debian release
//! it runs on (a binary linked against a newer glibc than the runtime's fails to start), and
//! Cargo.toml declares the minimum Rust version.

use std::path::Path;

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

/// The Debian release number an image reference is based on, from its tag or name.
fn debian_release(image: &str) -> Option<u32> {
    const CODENAMES: &[(&str, u32)] = &[("bullseye", 11), ("bookworm", 12), ("trixie", 13)];
    if let Some((_, n)) = CODENAMES.iter().find(|(name, _)| image.contains(name)) {
        return Some(*n);
    }
    let after = image.split("debian").nth(1)?;
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[test]
fn the_dockerfile_builds_on_the_debian_it_runs_on() {
    let dockerfile = read("Dockerfile");
    let images: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("FROM "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(images.len(), 2, "a build and a runtime stage: {images:?}");
    let releases: Vec<Option<u32>> = images.iter().map(|i| debian_release(i)).collect();
    assert!(
        releases.iter().all(Option::is_some),
        "every stage names its Debian release: {images:?}"
    );
    assert_eq!(
        releases[0], releases[1],
        "build and runtime Debian differ: {images:?}"
    );
}

#[test]
fn cargo_toml_declares_the_minimum_rust_version() {
    let manifest = read("Cargo.toml");
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version in Cargo.toml");
    assert!(version.trim_matches('"').split('.').count() >= 2);
}
