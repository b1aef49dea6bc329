//! A cheap guard for the import rules of `shared/style.md` §3: each module may use only
//! the layers below it, and only `store` speaks SQL.

use std::collections::BTreeSet;
use std::path::Path;

/// Module → the crate modules it may import.
const RULES: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("config", &["domain"]),
    ("telemetry", &["domain", "config"]),
    ("store", &["domain", "config", "telemetry"]),
    ("limits", &["domain", "config", "telemetry"]),
    ("secrets", &["domain", "config", "telemetry"]),
    ("channel", &["domain", "telemetry"]),
    ("llm", &["domain", "telemetry"]),
    ("knowledge", &["domain"]),
    ("notify", &["domain", "config", "telemetry", "store"]),
    ("queue", &["domain", "config", "telemetry", "store"]),
    ("brain", &["domain", "config", "telemetry", "store", "limits", "llm", "knowledge"]),
    (
        "jobs",
        &[
            "domain",
            "config",
            "telemetry",
            "store",
            "limits",
            "secrets",
            "channel",
            "llm",
            "knowledge",
            "notify",
            "queue",
            "brain",
        ],
    ),
    (
        "http",
        &[
            "domain",
            "config",
            "telemetry",
            "store",
            "limits",
            "secrets",
            "channel",
            "llm",
            "knowledge",
            "notify",
            "queue",
            "brain",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level modules named after `crate::` in `text`, including `crate::{a::X, b}` groups.
fn imported_modules(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut segment_start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(&group[segment_start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(&group[segment_start..i]));
                        segment_start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let mut violations = Vec::new();
    for (module, allowed) in RULES {
        let mut files = Vec::new();
        let dir = Path::new("src").join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for imported in imported_modules(&text) {
                if imported != *module && !allowed.contains(&imported.as_str()) {
                    violations.push(format!("{} imports crate::{imported}", file.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}

#[test]
fn only_the_store_writes_sql() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with("src/store"))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("sqlx::query"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "SQL outside store/: {offenders:?}");
}

#[test]
fn the_guard_sees_imports() {
    let found = imported_modules("use crate::store::Store;\nuse crate::{domain::{X, Y}, http};\n");
    assert_eq!(found, BTreeSet::from(["store".to_string(), "domain".to_string(), "http".to_string()]));
}
