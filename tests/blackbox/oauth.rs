//! Signing in to a remote server that takes only OAuth, against a real authorization server
//! fixture (`oauth-fixture`, a process on a loopback port): sign in, call a tool through
//! the gateway, the access token expires and is renewed without the client noticing, the
//! refresh is refused and the server turns to "needs sign-in", sign out removes the tokens
//! from the keychain; and neither the upstream's token nor the client's own key crosses
//! over, nor does a token reach the status, the config or an error.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_core::config::{Config, OAuthGrant, ServerConfig, UpstreamAuth};
use switchboard_core::secrets::{MemoryStore, SecretStore};

use crate::support::{Client, TEST_KEY, bounded, hub_for, status_of, text, url};

/// The fixture process, killed when dropped.
struct Fixture {
    child: Child,
    base: String,
}

impl Fixture {
    fn start() -> Fixture {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oauth-fixture"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the OAuth fixture starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .expect("'listening on <base>'")
            .to_owned();
        Fixture { child, base }
    }

    fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    async fn admin(&self, what: &str) {
        let status = reqwest::Client::new()
            .post(format!("{}/admin/{what}", self.base))
            .send()
            .await
            .expect("the fixture answers")
            .status();
        assert!(status.is_success(), "{what}: {status}");
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/admin/stats", self.base))
            .await
            .expect("the fixture answers")
            .json()
            .await
            .expect("JSON")
    }

    async fn count(&self, what: &str) -> u64 {
        self.stats().await["counts"][what].as_u64().unwrap_or(0)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oauth_server(fixture: &Fixture) -> ServerConfig {
    let mut server = ServerConfig::remote(fixture.mcp_url());
    server.auth = UpstreamAuth::Oauth {
        client_id: None,
        client_secret: None,
        client_key: None,
        client_metadata_url: None,
        scope: None,
        grant: OAuthGrant::AuthorizationCode,
    };
    server
}

/// Plays the person's browser: opens the authorization URL (the fixture approves at once
/// and redirects) and follows the redirect to Switchboard's loopback listener.
async fn follow_in_browser(authorization_url: &str) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .expect("a client");
    let page = bounded("the browser", browser.get(authorization_url).send())
        .await
        .expect("the redirect lands");
    assert!(page.status().is_success(), "{}", page.status());
    let body = page.text().await.expect("the page");
    assert!(body.contains("return to Switchboard"), "{body}");
}

async fn sign_in(hub: &switchboard_core::Hub, name: &str) -> switchboard_core::oauth::AuthStatus {
    let pending = hub.start_sign_in(name).await.expect("sign-in starts");
    assert!(pending.host.starts_with("127.0.0.1:"), "{}", pending.host);
    let url = pending.authorization_url.to_string();
    for part in [
        "code_challenge_method=S256",
        "resource=",
        "state=",
        "scope=mcp%3Atools",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    let finishing = hub.finish_sign_in(name, pending);
    let (status, ()) = tokio::join!(finishing, follow_in_browser(&url));
    status.expect("sign-in completes")
}

/// The server's state once its sign-in was read from the keychain (at start, in the
/// background).
async fn settled(hub: &switchboard_core::Hub, name: &str) -> Value {
    for _ in 0..200 {
        let state = auth_of(&status_of(hub).await, name);
        if state["auth"]["state"] != "unknown" {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the sign-in state of '{name}' was never read")
}

fn auth_of(status: &Value, name: &str) -> Value {
    status["servers"]
        .as_array()
        .and_then(|servers| servers.iter().find(|s| s["name"] == name))
        .map(|s| json!({"state": s["state"], "auth": s["auth"]}))
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn sign_in_call_refresh_and_sign_out_against_a_real_authorization_server() {
    let fixture = Fixture::start();
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut config = Config::default();
    config
        .servers
        .insert("tracker".into(), oauth_server(&fixture));
    let (hub, store) = hub_for(
        &dir,
        &config,
        switchboard_core::Auth::fixed(switchboard_core::secrets::Sensitive::new(
            TEST_KEY.to_owned(),
        )),
    )
    .await;

    // Before: needs sign-in, visibly, and a client gets a clear error, not a hang.
    let before = settled(&hub, "tracker").await;
    assert_eq!(before["state"], "needs-sign-in", "{before}");
    let mut early = Client::new(url(&hub, "/servers/tracker/mcp"));
    let refused = early
        .request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}))
        .await;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sign"), "{refused}");

    // Sign in.
    let status = sign_in(&hub, "tracker").await;
    assert_eq!(status.state, switchboard_core::oauth::AuthState::SignedIn);
    assert_eq!(status.account.as_deref(), Some("ada@example.com"));
    assert!(
        status.refreshable && status.expires_at.is_some(),
        "{status:?}"
    );
    let after = auth_of(&status_of(&hub).await, "tracker");
    assert_eq!(after["auth"]["state"], "signed-in", "{after}");
    assert_ne!(after["state"], "needs-sign-in", "{after}");

    // A call through the gateway.
    let mut client = Client::connect(url(&hub, "/servers/tracker/mcp")).await;
    let echoed = client
        .call("echo", json!({"message": "through OAuth"}))
        .await;
    assert_eq!(text(&echoed), "through OAuth", "{echoed}");

    // The access token expires: the next call is renewed on the way, unnoticed.
    let refreshes = fixture.count("token_refresh").await;
    fixture.admin("expire-access").await;
    let echoed = client
        .call("echo", json!({"message": "after expiry"}))
        .await;
    assert_eq!(text(&echoed), "after expiry", "{echoed}");
    assert_eq!(fixture.count("token_refresh").await, refreshes + 1);

    // The person revokes the app at the provider: the refresh is refused, and the server
    // says "needs sign-in" instead of failing silently.
    fixture.admin("revoke-all").await;
    let failed = client.call("echo", json!({"message": "revoked"})).await;
    assert!(
        failed.get("error").is_some() || failed["result"]["isError"] == true,
        "{failed}"
    );
    let revoked = auth_of(&status_of(&hub).await, "tracker");
    assert_eq!(revoked["state"], "needs-sign-in", "{revoked}");
    assert_eq!(revoked["auth"]["state"], "needs-sign-in", "{revoked}");
    assert!(
        revoked["auth"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sign in again"),
        "{revoked}"
    );

    // Signing in again brings it back.
    sign_in(&hub, "tracker").await;
    let mut again = Client::connect(url(&hub, "/servers/tracker/mcp")).await;
    let echoed = again
        .call("echo", json!({"message": "signed in again"}))
        .await;
    assert_eq!(text(&echoed), "signed in again", "{echoed}");

    // Nothing of the tokens anywhere a person or another program can read.
    let record = store
        .get("oauth:tracker")
        .expect("keychain")
        .expect("a record");
    let record: Value = serde_json::from_str(record.expose()).expect("JSON");
    let access = record["tokens"]["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let refresh = record["tokens"]["refreshToken"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let config_text = std::fs::read_to_string(dir.path().join("config.json")).unwrap_or_default();
    let status_text = status_of(&hub).await.to_string();
    for (what, text) in [("status", &status_text), ("config", &config_text)] {
        assert!(
            !text.contains(&access) && !text.contains(&refresh),
            "a token in the {what}"
        );
    }
    // The client's own key never reached the upstream; the upstream's token never came back.
    let stats = fixture.stats().await;
    let foreign = stats["foreignAuthorization"].to_string();
    assert!(
        !foreign.contains(TEST_KEY),
        "the client's key reached the upstream: {foreign}"
    );
    assert!(!echoed.to_string().contains(&access));

    // Sign out: the tokens leave the keychain (revoked at the provider first), and the server
    // needs sign-in again.
    let revocations = fixture.count("revoke").await;
    hub.sign_out("tracker").await.expect("sign out");
    assert!(store.get("oauth:tracker").expect("keychain").is_none());
    assert_eq!(fixture.count("revoke").await, revocations + 1);
    let out = auth_of(&status_of(&hub).await, "tracker");
    assert_eq!(out["auth"]["state"], "signed-out", "{out}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_sign_in_is_refused_for_a_server_that_does_not_use_oauth_and_without_a_keychain() {
    let fixture = Fixture::start();
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut config = Config::default();
    config
        .servers
        .insert("plain".into(), ServerConfig::remote(fixture.mcp_url()));
    config
        .servers
        .insert("tracker".into(), oauth_server(&fixture));
    let (hub, _store) = hub_for(
        &dir,
        &config,
        switchboard_core::Auth::fixed(switchboard_core::secrets::Sensitive::new(
            TEST_KEY.to_owned(),
        )),
    )
    .await;
    let Err(e) = hub.start_sign_in("plain").await else {
        panic!("signed in to a server without OAuth")
    };
    assert!(e.to_string().contains("does not use OAuth"), "{e}");
    hub.shutdown().await;

    // No keychain: the sign-in says so, and nothing is written anywhere else.
    let options = switchboard_core::HubOptions {
        port: 0,
        relay: crate::support::quick_options(),
        auth: switchboard_core::Auth::fixed(switchboard_core::secrets::Sensitive::new(
            TEST_KEY.to_owned(),
        )),
        extra_origins: vec![],
        secrets: None,
        config_path: None,
    };
    let hub = switchboard_core::Hub::launch(&config, options)
        .await
        .expect("hub");
    let Err(e) = hub.start_sign_in("tracker").await else {
        panic!("signed in without a keychain")
    };
    assert!(e.to_string().contains("keychain"), "{e}");
    let status = settled(&hub, "tracker").await;
    assert_eq!(status["state"], "needs-sign-in", "{status}");
    assert!(
        status["auth"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("keychain"),
        "{status}"
    );
    hub.shutdown().await;
    let _: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
}
