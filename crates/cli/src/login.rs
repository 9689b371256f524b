//! `switchboard login NAME` and `switchboard logout NAME`: signing in to a remote server
//! that uses OAuth, headless. The authorization URL is printed (never opened through a
//! shell); the redirect lands on a loopback listener; the tokens go to the keychain, where a
//! running proxy finds them at its next request to that server.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use switchboard_core::config::Config;
use switchboard_core::oauth::{AuthState, AuthStatus};
use switchboard_core::relay::{RelayOptions, ServerContext};
use switchboard_core::secrets::SecretStore;
use switchboard_core::sign_in;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn authorizer(
    path: &Path,
    name: &str,
    store: Arc<dyn SecretStore>,
) -> anyhow::Result<Arc<switchboard_core::oauth::Authorizer>> {
    let config = Config::load(path)?;
    let server = config
        .servers
        .get(name)
        .with_context(|| format!("{} has no server named '{name}'", path.display()))?;
    let context = ServerContext::new(&config, Some(store));
    Ok(sign_in::authorizer(
        &context,
        RelayOptions::default().max_frame_bytes,
        name,
        server,
    )?)
}

pub fn login(
    path: &Path,
    name: &str,
    open_keychain: impl FnOnce() -> anyhow::Result<Arc<dyn SecretStore>>,
) -> anyhow::Result<()> {
    let store = open_keychain().context("sign-in tokens are kept only in the keychain")?;
    runtime()?.block_on(async {
        let authorizer = authorizer(path, name, store)?;
        let settings = authorizer.settings().await?;
        if settings.grant == switchboard_core::oauth::Grant::ClientCredentials {
            authorizer
                .access_token()
                .await
                .with_context(|| format!("'{name}': the client-credentials grant failed"))?;
            println!("'{name}' has a token (client credentials); it is renewed when it expires.");
            return Ok(());
        }
        let pending = sign_in::start(&authorizer).await?;
        for step in &pending.steps {
            eprintln!("  {step}");
        }
        println!(
            "To sign in to '{name}', open this address in your browser (it is {}):",
            pending.host
        );
        println!();
        println!("  {}", pending.authorization_url);
        println!();
        println!(
            "Waiting for the browser to come back to {} (at most {} minutes; Ctrl-C to give up)…",
            pending.redirect_uri(),
            sign_in::SIGN_IN_TIMEOUT.as_secs() / 60
        );
        pending
            .finish(sign_in::SIGN_IN_TIMEOUT)
            .await
            .with_context(|| format!("'{name}': sign-in failed"))?;
        authorizer.reload().await?;
        println!("{}", describe(name, &authorizer.status()));
        Ok(())
    })
}

pub fn logout(
    path: &Path,
    name: &str,
    open_keychain: impl FnOnce() -> anyhow::Result<Arc<dyn SecretStore>>,
) -> anyhow::Result<()> {
    let store = open_keychain()?;
    runtime()?.block_on(async {
        let authorizer = authorizer(path, name, store)?;
        sign_in::sign_out(&authorizer).await?;
        println!("Signed out of '{name}'; its tokens are gone from the keychain.");
        Ok(())
    })
}

/// For `switchboard test`: what discovery finds and where the sign-in stands.
pub fn describe_oauth(
    path: &Path,
    name: &str,
    store: Arc<dyn SecretStore>,
) -> anyhow::Result<AuthState> {
    runtime()?.block_on(async {
        let authorizer = authorizer(path, name, store)?;
        match sign_in::discover(&authorizer).await {
            Ok(found) => {
                println!("'{name}' uses OAuth. Discovery:");
                for step in &found.steps {
                    println!("  {step}");
                }
                println!(
                    "  Switchboard identifies itself with {}",
                    found.registration
                );
            }
            Err(e) => println!("'{name}' uses OAuth, but discovery failed: {e}"),
        }
        authorizer.reload().await?;
        let status = authorizer.status();
        println!("{}", describe(name, &status));
        Ok(status.state)
    })
}

fn describe(name: &str, status: &AuthStatus) -> String {
    match status.state {
        AuthState::SignedIn => {
            let who = status
                .account
                .as_deref()
                .map(|a| format!(" as {a}"))
                .unwrap_or_default();
            let at = status
                .issuer
                .as_deref()
                .map(|i| format!(" at {i}"))
                .unwrap_or_default();
            let expiry = match (status.expires_at, status.refreshable) {
                (Some(at), true) => format!(
                    "; the access token expires in {}, then is renewed",
                    in_words(at)
                ),
                (Some(at), false) => format!(
                    "; the access token expires in {} (no refresh token: sign in again then)",
                    in_words(at)
                ),
                (None, _) => String::new(),
            };
            format!("'{name}': signed in{who}{at}{expiry}.")
        }
        AuthState::NeedsSignIn => format!(
            "'{name}': needs sign-in: {} (run `switchboard login {name}`).",
            status
                .message
                .as_deref()
                .unwrap_or("the sign-in no longer works")
        ),
        AuthState::SignedOut | AuthState::Unknown => {
            format!("'{name}': not signed in (run `switchboard login {name}`).")
        }
    }
}

fn in_words(expires_at: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let left = expires_at.saturating_sub(now);
    match left {
        0 => "0 s (already expired)".to_owned(),
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}
