//! The shape of the house, kept by a test: layers only point down, and no module imports
//! another that imports it back.
//!
//! network (`net`) → `handlers` → the `broker` hub → `coordinator`, `quota` (client quota
//! enforcement, which reads the quota configs of `metadata`) and `metadata` → `log`,
//! with `config` a leaf above `log`; `http` sits beside `net` and serves the web `console`,
//! which reads the hub and the state below it (no layer imports `http`). The log imports
//! nothing else of the crate; coordinators import no handler, network or hub; metadata imports
//! no handler or coordinator; `metrics` (the counters the network records) sits just above the
//! log, so the hub can own it. Every `crate::…` path in `src/` counts (use lines and inline
//! paths alike, tests included).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and the top-level modules it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    ("log", &[]),
    ("config", &["log"]),
    // Fault injection: rules and their responses; it sets the log's disk hook.
    ("fault", &["log"]),
    ("metadata", &["config", "log"]),
    ("coordinator", &["config", "log"]),
    ("quota", &["config", "log", "metadata"]),
    // The request and connection counters the network records and /metrics reads; above the
    // log only for its histogram.
    ("metrics", &["log"]),
    (
        "broker",
        &[
            "config",
            "log",
            "metadata",
            "coordinator",
            "quota",
            "fault",
            "metrics",
        ],
    ),
    (
        "handlers",
        &[
            "broker",
            "config",
            "log",
            "metadata",
            "coordinator",
            "quota",
        ],
    ),
    (
        "net",
        &[
            "handlers", "broker", "config", "log", "quota", "fault", "metrics",
        ],
    ),
    // The web console reads the hub and the state below it; the HTTP listener serves it.
    ("console", &["broker", "config", "log", "metadata"]),
    // The HTTP listener (health, readiness, /metrics) reads the hub like a handler does.
    (
        "http",
        &[
            "console",
            "broker",
            "config",
            "log",
            "metadata",
            "coordinator",
            "quota",
            "fault",
            "metrics",
        ],
    ),
    // The command line's Kafka client talks to brokers over the wire only.
    ("client", &[]),
    (
        "lib",
        &[
            "client",
            "net",
            "http",
            "console",
            "fault",
            "handlers",
            "broker",
            "config",
            "log",
            "metadata",
            "coordinator",
            "quota",
            "metrics",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b/c.rs` -> ["a", "b", "c"]; `mod.rs` names its directory; `src/lib.rs` -> ["lib"].
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every `crate::x::y…` path in the file's code (comments left out), as module segments.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            rest = &rest[at + "crate::".len()..];
            if preceded_by_ident {
                continue;
            }
            let segments: Vec<String> = rest
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty() && s.chars().next().is_some_and(char::is_lowercase))
                .collect();
            if !segments.is_empty() {
                out.push(segments);
            }
        }
    }
    out
}

struct Crate {
    /// file module path -> the crate paths it uses
    uses: BTreeMap<Vec<String>, Vec<Vec<String>>>,
}

fn read_crate() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut uses = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        uses.insert(module_path(&src, &file), crate_paths(&text));
    }
    Crate { uses }
}

#[test]
fn layers_only_point_down() {
    let krate = read_crate();
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let mut violations = Vec::new();
    for (module, paths) in &krate.uses {
        let top = module[0].as_str();
        if top == "main" {
            continue; // the binary wires everything
        }
        let Some(may) = allowed.get(top) else {
            violations.push(format!(
                "src/{}: a top-level module the layer rules do not know",
                module.join("/")
            ));
            continue;
        };
        for path in paths {
            let target = path[0].as_str();
            if target != top && !may.contains(target) {
                violations.push(format!(
                    "{} uses crate::{} ({top} may use only {may:?})",
                    module.join("::"),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

/// The module a path resolves to among the known files (the longest known prefix).
fn resolve<'a>(known: &'a BTreeSet<Vec<String>>, path: &[String]) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| known.get(&path[..n].to_vec()))
}

#[test]
fn no_import_cycles_between_modules() {
    let krate = read_crate();
    let known: BTreeSet<Vec<String>> = krate.uses.keys().cloned().collect();
    // Edges between files; a file and the modules nested in it are one unit (a parent
    // re-exporting its children is not a cycle).
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, paths) in &krate.uses {
        for path in paths {
            let Some(target) = resolve(&known, path) else {
                continue;
            };
            let nested = target.starts_with(module) || module.starts_with(target);
            if !nested {
                edges
                    .entry(module.clone())
                    .or_default()
                    .insert(target.clone());
            }
        }
    }
    // Tarjan-free check: a DFS that reports the first cycle it closes.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("import cycle: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_rules_can_fail() {
    // A lower layer importing an upper one is caught, whatever the form.
    let uses = crate_paths(
        "use crate::handlers::owned_str;\nlet x = crate::broker::now_ms(); // crate::net in a comment\n",
    );
    assert_eq!(
        uses,
        vec![
            vec!["handlers".to_string(), "owned_str".to_string()],
            vec!["broker".to_string(), "now_ms".to_string()]
        ]
    );
}
