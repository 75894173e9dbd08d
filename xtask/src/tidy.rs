//! The checks. Each returns human-readable problems; an empty list means tidy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Crates that must stay pure: no async runtime, HTTP, SQL, file or network access.
pub const PURE_CRATES: &[&str] = &[
    "kumo-names",
    "kumo-cel",
    "kumo-iam",
    "kumo-orgpolicy",
    "kumo-logfilter",
    "kumo-identity",
];

/// Dependencies a pure crate may not have, even transitively.
pub const FORBIDDEN_DEPENDENCIES: &[&str] = &[
    "tokio",
    "hyper",
    "http",
    "axum",
    "reqwest",
    "ureq",
    "sqlx",
    "rusqlite",
    "libsqlite3-sys",
    "mio",
];

/// APIs a pure crate may not call.
pub const FORBIDDEN_APIS: &[&str] = &["std::fs", "std::net", "std::env", "std::process"];

/// Every problem found in the workspace at `root`.
pub fn problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    problems.extend(purity_of_dependencies(root));
    problems.extend(purity_of_sources(root));
    problems.extend(architecture_names_every_crate(root));
    problems
}

/// Walks `cargo metadata`'s resolve graph from each pure crate.
pub fn purity_of_dependencies(root: &Path) -> Vec<String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--format-version", "1"])
        .current_dir(root)
        .output();
    let metadata: Value = match output {
        Ok(output) if output.status.success() => match serde_json::from_slice(&output.stdout) {
            Ok(value) => value,
            Err(error) => return vec![format!("cannot parse cargo metadata: {error}")],
        },
        Ok(output) => {
            return vec![format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )];
        }
        Err(error) => return vec![format!("cannot run cargo metadata: {error}")],
    };
    let names: BTreeMap<String, String> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| {
            Some((
                package["id"].as_str()?.to_owned(),
                package["name"].as_str()?.to_owned(),
            ))
        })
        .collect();
    // Normal (non-dev, non-build) dependency edges only: tests may use anything.
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(id) = node["id"].as_str() else {
            continue;
        };
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|kind| kind["kind"].is_null())
            })
            .filter_map(|dep| dep["pkg"].as_str().map(str::to_owned))
            .collect();
        edges.insert(id.to_owned(), deps);
    }
    let mut problems = Vec::new();
    for pure in PURE_CRATES {
        let Some(start) = names
            .iter()
            .find(|(_, name)| name == pure)
            .map(|(id, _)| id.clone())
        else {
            problems.push(format!("pure crate `{pure}` is not in the workspace"));
            continue;
        };
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(name) = names.get(&id)
                && FORBIDDEN_DEPENDENCIES.contains(&name.as_str())
            {
                problems.push(format!("pure crate `{pure}` depends on `{name}`"));
            }
            stack.extend(edges.get(&id).cloned().unwrap_or_default());
        }
    }
    problems
}

/// Greps the pure crates' sources for forbidden APIs.
pub fn purity_of_sources(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for pure in PURE_CRATES {
        let src = root.join("crates").join(pure).join("src");
        for file in rust_files(&src) {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for api in FORBIDDEN_APIS {
                if text.contains(api) {
                    problems.push(format!("{} uses `{api}` in a pure crate", file.display()));
                }
            }
        }
    }
    problems
}

/// Every folder under `crates/` must be named in ARCHITECTURE.md.
pub fn architecture_names_every_crate(root: &Path) -> Vec<String> {
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(root.join("crates")) else {
        return vec!["no crates/ folder".to_owned()];
    };
    let mut problems = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !architecture.contains(&format!("`{name}`")) {
            problems.push(format!("ARCHITECTURE.md does not name crate `{name}`"));
        }
    }
    problems
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}
