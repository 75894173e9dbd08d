//! Tidy checks of the house rules that the compiler cannot see: the purity of the engine crates
//! and an ARCHITECTURE.md that names every crate.

pub mod tidy;

use std::path::PathBuf;

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
