//! Other clients' MCP configs: every fixture (tests/fixtures/clients, from each client's
//! documented examples plus real-world variations) is read as expected.json says; an
//! import moves every secret into the keychain and none into the config; connect then undo
//! restores each file byte for byte, keeps comments and unknown keys, and a second
//! connect changes nothing; a broken file is reported with its line and column and left
//! alone.

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchboard_core::clients::connect::{self, Destination, State};
use switchboard_core::clients::read::{self, Found, Target, ValueClass};
use switchboard_core::clients::{Client, ClientFile, Os, Places, Scope};
use switchboard_core::config::{Config, RemoteTransport};
use switchboard_core::secrets::Sensitive;

use crate::support::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/clients")
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// The client file a fixture path stands for (`<client>/<home|project|…>/…`).
fn file_of(relative: &str) -> ClientFile {
    let mut parts = relative.split('/');
    let client = Client::from_id(parts.next().unwrap()).unwrap();
    let scope = if parts.next() == Some("project") {
        Scope::Project
    } else {
        Scope::User
    };
    ClientFile {
        client,
        scope,
        path: fixtures().join(relative),
    }
}

fn transport_of(found: &Found) -> &'static str {
    match &found.target {
        Target::Stdio { .. } => "stdio",
        Target::Remote { transport, .. } => match transport {
            RemoteTransport::Auto => "auto",
            RemoteTransport::StreamableHttp => "streamable-http",
            RemoteTransport::Sse => "sse",
        },
        Target::Nothing => "none",
    }
}

fn class_name(class: ValueClass) -> &'static str {
    match class {
        ValueClass::Plain => "literal",
        ValueClass::Secret => "secret",
        ValueClass::Placeholder => "placeholder",
    }
}

#[test]
fn every_fixture_is_read_as_expected() {
    let mut checked = 0;
    for (relative, servers) in expected() {
        let file = file_of(&relative);
        let text = std::fs::read_to_string(&file.path).unwrap();
        let found = read::read(&file, &text, 17345).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let want = servers.as_array().unwrap();
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        let want_names: Vec<&str> = want.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, want_names, "{relative}");
        for (got, want) in found.iter().zip(want) {
            let at = format!("{relative} [{}]", got.name);
            let unresolved_url = want["unresolved"]
                .as_array()
                .is_some_and(|u| u.iter().any(|f| f == "url"));
            // A credential in an argument or in the URL cannot move into the keychain: the
            // server is skipped (with a note) rather than imported with it.
            // A key in a URL's path is only a guess: flagged, not refused.
            if want.get("secretUrl").is_some() {
                assert!(
                    got.skip.is_some() || !got.warnings.is_empty(),
                    "{at}: {got:?}"
                );
            }
            let credential_inline = want.get("secretArgs").is_some();
            if credential_inline {
                assert!(
                    got.skip.is_some() && !got.warnings.is_empty(),
                    "{at}: {got:?}"
                );
            }
            if want.get("skip").is_some() || unresolved_url || credential_inline {
                assert!(got.skip.is_some(), "{at}: should be skipped: {got:?}");
                continue;
            }
            assert!(got.skip.is_none(), "{at}: skipped: {:?}", got.skip);
            assert_eq!(transport_of(got), want["transport"], "{at}");
            assert_eq!(got.enabled, want["enabled"], "{at}");
            match &got.target {
                Target::Stdio { command, args, .. } => {
                    assert_eq!(command, &want["command"], "{at}");
                    assert_eq!(
                        serde_json::to_value(args).unwrap(),
                        want["args"].clone(),
                        "{at}"
                    );
                }
                Target::Remote { url, .. } => assert_eq!(url, &want["url"], "{at}"),
                Target::Nothing => panic!("{at}: no target"),
            }
            for (field, values) in [("env", &got.env), ("headers", &got.headers)] {
                let got: serde_json::Map<String, Value> = values
                    .iter()
                    .map(|v| (v.name.clone(), Value::from(class_name(v.class))))
                    .collect();
                assert_eq!(Value::Object(got), want[field], "{at} {field}");
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} servers checked");
}

#[test]
fn a_broken_file_is_reported_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    let text = "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\" \n  }\n}\n";
    std::fs::write(&path, text).unwrap();
    let file = ClientFile {
        client: Client::Cursor,
        scope: Scope::User,
        path: path.clone(),
    };
    let err = read::read(&file, text, 17345).unwrap_err();
    assert!(
        err.message.starts_with(
            "line 6, column 1: the file ends before the object that opens at line 1, column 1"
        ),
        "{err}"
    );
    let to = destination(Some("sbk_test"));
    let refused = connect::plan(&file, &to, &[]).unwrap_err();
    assert!(refused.message.contains("line 6"), "{refused}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the file was touched"
    );
}

/// Switchboard's entry, under a name no fixture uses.
fn destination(key: Option<&str>) -> Destination {
    Destination {
        url: "http://127.0.0.1:17345/mcp".into(),
        key: key.map(|k| Sensitive::new(k.to_owned())),
        bridge: Some((
            PathBuf::from("/usr/bin/switchboard"),
            vec!["connect".into()],
        )),
        name: "switchboard-test".into(),
    }
}

/// Copies a client's fixture folder into a fresh directory.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn connect_then_undo_restores_every_format_byte_for_byte() {
    const KEY: &str = "sbk_connect-test-key-0123456789abcdefghijklmnopq";
    for (relative, _) in expected() {
        let fixture = file_of(&relative);
        let text = std::fs::read_to_string(&fixture.path).unwrap();
        if read::read(&fixture, &text, 17345)
            .map(|f| f.is_empty())
            .unwrap_or(true)
        {
            continue; // files that only switch another file's servers
        }
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let path = dir.path().join(fixture.path.file_name().unwrap());
        std::fs::write(&path, &text).unwrap();
        let file = ClientFile {
            path: path.clone(),
            ..fixture
        };
        let names: Vec<String> = read::read(&file, &text, 17345)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .filter(|n| n != "switchboard")
            .take(1)
            .collect();
        let plan = connect::plan(&file, &destination(Some(KEY)), &names).unwrap();
        assert!(plan.changes, "{relative}");
        assert!(
            !plan.diff.contains(KEY),
            "{relative}: the key is in the diff"
        );
        // Claude Desktop and Codex get the bridge, and so does a project's file (usually
        // committed): no key in them. The others get the key, shown masked.
        let bridged = matches!(file.client, Client::ClaudeDesktop | Client::Codex)
            || file.scope == Scope::Project;
        assert_eq!(
            plan.diff.contains(connect::KEY_SHOWN_AS),
            !bridged,
            "{relative}\n{}",
            plan.diff
        );
        connect::apply(&plan, state.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().contains(KEY),
            !bridged,
            "{relative}"
        );
        assert_eq!(
            connect::state(&file, state.path()),
            State::Connected,
            "{relative}"
        );
        let written = std::fs::read_to_string(&path).unwrap();
        // Every comment line and unknown key of the original is still there.
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("//") || l.trim_start().starts_with('#'))
        {
            assert!(
                written.contains(line.trim()),
                "{relative}: lost {line:?}\n{written}"
            );
        }
        let again = read::read(&file, &written, 17345).unwrap();
        assert!(
            again.iter().any(|f| f.name == "switchboard-test"),
            "{relative}: no entry after connect\n{written}"
        );
        // Connecting again changes nothing.
        let second = connect::plan(&file, &destination(Some(KEY)), &names).unwrap();
        assert!(
            !second.changes,
            "{relative}: a second connect changes\n{}",
            second.diff
        );
        connect::undo(&file, state.path(), false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{relative}: undo is not byte for byte"
        );
        assert_eq!(connect::state(&file, state.path()), State::NotConnected);
    }
}

#[test]
fn undo_refuses_to_lose_a_change_made_since_and_a_created_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = ClientFile {
        client: Client::Cursor,
        scope: Scope::User,
        path: dir.path().join(".cursor/mcp.json"),
    };
    let plan = connect::plan(&file, &destination(None), &[]).unwrap();
    assert!(!plan.exists);
    connect::apply(&plan, state.path()).unwrap();
    let written = std::fs::read_to_string(&file.path).unwrap();
    std::fs::write(&file.path, format!("{written}\n")).unwrap();
    assert_eq!(connect::state(&file, state.path()), State::ChangedSince);
    assert!(connect::undo(&file, state.path(), false).is_err());
    connect::undo(&file, state.path(), true).unwrap();
    assert!(
        !file.path.exists(),
        "the file Switchboard created is still there"
    );
    // A plan whose file changed before it was applied is refused.
    std::fs::create_dir_all(file.path.parent().unwrap()).unwrap();
    std::fs::write(&file.path, "{}").unwrap();
    let plan = connect::plan(&file, &destination(None), &[]).unwrap();
    std::fs::write(&file.path, "{\"mcpServers\": {}}").unwrap();
    assert!(connect::apply(&plan, state.path()).is_err());
    assert_eq!(
        std::fs::read_to_string(&file.path).unwrap(),
        "{\"mcpServers\": {}}"
    );
}

#[tokio::test]
async fn an_import_moves_every_secret_into_the_keychain_and_none_into_the_config() {
    let home = tempfile::tempdir().unwrap();
    for client in [
        "claude-desktop",
        "claude-code",
        "cursor",
        "vscode",
        "codex",
        "zed",
        "windsurf",
        "gemini",
        "cline",
        "roo",
        "lmstudio",
    ] {
        copy_tree(&fixtures().join(client).join("home"), home.path());
    }
    let places = Places {
        os: Os::Linux,
        home: home.path().to_owned(),
        config_dir: home.path().join(".config"),
        project: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let (hub, store) = hub_for(
        &dir,
        &Config::default(),
        switchboard_core::Auth::fixed(Sensitive::new(TEST_KEY.to_owned())),
    )
    .await;
    let preview = hub.import_preview(&places, None);
    assert!(preview.unreadable.is_empty(), "{:?}", preview.unreadable);
    let chosen: Vec<(PathBuf, String)> = preview
        .candidates
        .iter()
        .filter(|c| c.importable)
        .map(|c| (c.from.path.clone(), c.found.name.clone()))
        .collect();
    assert!(chosen.len() > 20, "{}", chosen.len());
    let report = hub.import(&places, &chosen).await.unwrap();
    assert!(report.imported.len() > 20, "{report:?}");
    let saved = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let mut moved = 0;
    for candidate in preview.candidates.iter().filter(|c| c.importable) {
        if !report.imported.contains(&candidate.name) {
            continue;
        }
        for value in candidate.found.env.iter().chain(&candidate.found.headers) {
            if value.class == ValueClass::Secret {
                assert!(
                    !saved.contains(value.value.expose().as_str()),
                    "{} of '{}' is in the config",
                    value.name,
                    candidate.name
                );
                moved += 1;
            }
        }
        for secret in candidate.secrets.iter().filter(|s| !s.needs_value) {
            assert!(
                store.get(secret.secret.as_str()).unwrap().is_some(),
                "{} not stored",
                secret.secret
            );
        }
    }
    assert!(moved >= 8, "only {moved} secrets moved");
    assert!(
        !saved.contains("ghp_FAKE") && !saved.contains("sk-test-FAKE"),
        "{saved}"
    );
    // A second import finds everything there already.
    let again = hub.import_preview(&places, None);
    assert!(
        again
            .candidates
            .iter()
            .all(|c| !c.importable || c.found.skip.is_some()),
        "imported twice"
    );
    hub.shutdown().await;
}

#[test]
fn the_diff_hides_every_credential_and_a_symlinked_file_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles-mcp.json");
    let token = "ghp_FAKEdiffToken0123456789abcdefABCDEF01";
    let original = format!(
        "{{\n  \"mcpServers\": {{\n    \"tavily\": {{ \"url\": \"https://mcp.tavily.com/mcp/?tavilyApiKey=tvly-SECRETSECRET\" }},\n    \"gh\": {{ \"command\": \"npx\", \"env\": {{ \"GITHUB_TOKEN\": \"{token}\" }} }},\n    \"db\": {{ \"command\": \"pg\", \"env\": {{ \"DATABASE_URL\": \"postgres://admin:hunter2secret@db/prod\" }} }}\n  }}\n}}\n"
    );
    std::fs::write(&real, &original).unwrap();
    let cursor = dir.path().join(".cursor");
    std::fs::create_dir_all(&cursor).unwrap();
    let link = cursor.join("mcp.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let file = ClientFile {
        client: Client::Cursor,
        scope: Scope::User,
        path: link.clone(),
    };
    let plan = connect::plan(
        &file,
        &destination(Some("sbk_diff-test-key-0123456789abcdefghijklmnopq")),
        &["tavily".into(), "gh".into(), "db".into()],
    )
    .unwrap();
    for secret in [
        token,
        "tvly-SECRETSECRET",
        "hunter2secret",
        "sbk_diff-test-key",
    ] {
        assert!(
            !plan.diff.contains(secret),
            "{secret} in the diff:\n{}",
            plan.diff
        );
    }
    connect::apply(&plan, state.path()).unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("switchboard-test")
    );
    connect::undo(&file, state.path(), false).unwrap();
    assert_eq!(std::fs::read_to_string(&real).unwrap(), original);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
