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

/// The core's modules, leaves first. Each may name only modules listed before it (and its
/// own): that is what keeps the layering free of cycles. A tidy test in the rust-analyzer
/// manner: it reads the sources, so a `use` that breaks the layering fails here, named.
///
/// `crate::Error` / `crate::Result` (the `error` module) may be named from anywhere: it is
/// the crate's one error type, holds no behaviour, and wraps the leaves' own error types.
const LAYERS: &[(&str, &[&str])] = &[
    // The protocol on the wire: names nothing else in core.
    ("mcp", &[]),
    ("sensitive", &[]),
    ("redact", &["sensitive"]),
    ("url_policy", &["sensitive"]),
    ("secrets", &["sensitive", "redact", "url_policy"]),
    ("api_key", &["secrets", "sensitive"]),
    ("config", &["secrets", "url_policy"]),
    ("supervisor", &["mcp", "redact"]),
    // The client side of OAuth: discovery, grants, the keychain record. Not the config.
    ("oauth", &["redact", "secrets", "sensitive", "url_policy"]),
    // Other clients' config files: read, imported into the config, written back.
    (
        "clients",
        &["config", "redact", "secrets", "sensitive", "url_policy"],
    ),
    // Remote servers: the protocol client, with config and secrets. Never the relay.
    (
        "upstream",
        &["mcp", "config", "oauth", "redact", "secrets", "url_policy"],
    ),
    (
        "relay",
        &[
            "mcp",
            "config",
            "oauth",
            "redact",
            "secrets",
            "supervisor",
            "upstream",
            "url_policy",
        ],
    ),
];

/// Every `crate::<module>` a source file names, outside comments and its unit tests (a
/// test may check one layer against another).
fn named_modules(source: &str) -> Vec<String> {
    let source = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or(source);
    let mut named = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let module: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            named.push(module);
            rest = after;
        }
    }
    named
}

fn core_sources(module: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .join("crates/core/src");
    let file = root.join(format!("{module}.rs"));
    if file.exists() {
        let text = std::fs::read_to_string(&file).expect("readable source");
        return vec![(format!("{module}.rs"), text)];
    }
    let mut out = Vec::new();
    let mut dirs = vec![root.join(module)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable source");
                out.push((path.display().to_string(), text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources for core module {module}");
    out
}

/// The layering of ARCHITECTURE.md: `mcp` names nothing above it, `config` never names
/// `upstream`, `upstream` never names `relay`, and so on down the table.
#[test]
fn core_modules_only_name_the_layers_below_them() {
    for (module, allowed) in LAYERS {
        for (file, text) in core_sources(module) {
            for named in named_modules(&text) {
                let is_error_type = matches!(named.as_str(), "Result" | "Error" | "error");
                assert!(
                    is_error_type || named == *module || allowed.contains(&named.as_str()),
                    "{file} names crate::{named}, which is not below `{module}` in the layering"
                );
            }
        }
    }
}

#[test]
fn the_layering_check_sees_a_violation() {
    let text = "use crate::relay::Session; // crate::http in a comment is fine\n\
                #[cfg(test)]\nmod tests {\n    use crate::hub::Hub;\n}\n";
    assert_eq!(named_modules(text), vec!["relay".to_owned()]);
}
