//! Architecture invariants that a test can hold us to (ARCHITECTURE.md).

use std::path::Path;

fn workspace_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Invariant 1: the core runs headless; it never depends on Tauri or a GUI toolkit.
#[test]
fn core_and_cli_never_depend_on_tauri() {
    for manifest in ["crates/core/Cargo.toml", "crates/cli/Cargo.toml"] {
        let text = workspace_file(manifest);
        for forbidden in ["tauri", "wry", "tao", "gtk", "webkit"] {
            assert!(
                !text.lines().any(|l| l.trim_start().starts_with(forbidden)),
                "{manifest} depends on {forbidden}"
            );
        }
    }
}

/// Invariant 5: core never looks up OS directories itself.
#[test]
fn core_never_looks_up_os_directories() {
    let manifest = workspace_file("crates/core/Cargo.toml");
    for forbidden in ["dirs", "directories", "home"] {
        assert!(
            !manifest
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{forbidden} "))),
            "core depends on {forbidden}"
        );
    }
}
