//! Signing in to OAuth servers: the Hub's operations (sign in, sign out, what discovery
//! finds for "Test connection"), and the same as free functions for `switchboard login`,
//! which runs without a proxy. The shells only open the browser (after checking the URL)
//! and show the state; every rule lives in `crate::oauth`.

use std::sync::Arc;

use super::Hub;
use crate::config::{ServerConfig, UpstreamAuth};
use crate::error::{Error, Result};
use crate::oauth::{self, AuthStatus, Authorizer, OAuthError, SignIn};
use crate::relay::ServerContext;
use crate::upstream::RemoteServer;

pub use crate::oauth::flow::SIGN_IN_TIMEOUT;

/// The authorizer of OAuth server `name` as `config` defines it (enabled or not), with the
/// keychain and change feed of `context`.
pub fn authorizer(
    context: &ServerContext,
    max_message_bytes: usize,
    name: &str,
    config: &ServerConfig,
) -> Result<Arc<Authorizer>> {
    let error = |message: &str| Error::Upstream {
        server: name.to_owned(),
        message: message.to_owned(),
    };
    if !matches!(config.auth, UpstreamAuth::Oauth { .. }) {
        return Err(error(
            "does not use OAuth (its auth type must be oauth to sign in)",
        ));
    }
    let changes = context.changes.clone();
    let remote = RemoteServer::from_config(
        &Arc::from(name),
        config,
        context.query_policy.clone(),
        max_message_bytes,
        &context.secrets,
        Arc::new(move || changes.send_modify(|n| *n = n.wrapping_add(1))),
    )
    .ok_or_else(|| error("is not a remote server"))?;
    remote
        .authorizer()
        .cloned()
        .ok_or_else(|| error("does not use OAuth"))
}

/// Starts a sign-in: discovery, the client's registration and the authorization URL
/// (checked: https, or http on loopback for a loopback server). A loopback listener waits
/// for the browser; `SignIn::finish` completes it.
pub async fn start(authorizer: &Authorizer) -> Result<SignIn> {
    let name = authorizer.server();
    let fail = |message: String| Error::Upstream {
        server: name.to_owned(),
        message,
    };
    let settings = authorizer
        .settings()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if settings.grant == oauth::Grant::ClientCredentials {
        return Err(fail(
            "uses the client-credentials grant: no one signs in; its token is fetched when it is used".into(),
        ));
    }
    // A scope a server asked for more of (step-up) is in the keychain record, which the
    // sign-in reads and adds to what it asks for.
    SignIn::start(authorizer.context(), &settings, None)
        .await
        .map_err(|e| fail(e.to_string()))
}

/// Signs out: the refresh token is revoked where the authorization server offers that
/// (best effort, a few seconds at most) and the tokens are removed from the keychain.
pub async fn sign_out(authorizer: &Authorizer) -> Result<()> {
    let name = authorizer.server();
    if let Ok(settings) = authorizer.settings().await {
        oauth::flow::revoke(authorizer.context(), &settings).await;
    }
    authorizer
        .context()
        .store
        .delete(name)
        .await
        .map_err(|e| Error::Upstream {
            server: name.to_owned(),
            message: e.to_string(),
        })?;
    authorizer.signed_out().await;
    log::info!("'{name}': signed out; its tokens were removed from the keychain");
    Ok(())
}

/// What discovery finds for an OAuth server, without signing in.
pub async fn discover(authorizer: &Authorizer) -> Result<AuthDiscovery> {
    let name = authorizer.server();
    let fail = |e: OAuthError| Error::Upstream {
        server: name.to_owned(),
        message: e.to_string(),
    };
    let settings = authorizer.settings().await.map_err(fail)?;
    let ctx = authorizer.context();
    let challenge = oauth::flow::probe(ctx).await.map_err(fail)?;
    let found = oauth::discovery::discover(&ctx.http, &ctx.server_url, challenge.as_ref())
        .await
        .map_err(fail)?;
    let server = &found.server;
    let registration = if settings.client_id.is_some() {
        "the client configured for it (clientId)".to_owned()
    } else if settings.client_metadata_url.is_some() && server.client_id_metadata_document_supported
    {
        "Switchboard's client ID metadata document".to_owned()
    } else if server.registration_endpoint.is_some() {
        "dynamic client registration".to_owned()
    } else {
        "none available: set a clientId".to_owned()
    };
    let mut steps = found.steps.clone();
    steps.push(if server.supports_s256() {
        "PKCE with S256: supported".to_owned()
    } else {
        "PKCE with S256: NOT advertised; sign-in will be refused".to_owned()
    });
    if server.iss_parameter_supported {
        steps.push("the authorization server names itself in its answers (RFC 9207)".into());
    }
    Ok(AuthDiscovery {
        steps,
        issuer: server.issuer.clone(),
        registration,
    })
}

/// What discovery found for an OAuth server, in plain words.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthDiscovery {
    pub steps: Vec<String>,
    /// The authorization server.
    pub issuer: String,
    /// How Switchboard will identify itself there.
    pub registration: String,
}

impl Hub {
    /// The authorizer of server `name` as configured now (enabled or not).
    fn authorizer_for(&self, name: &str) -> Result<Arc<Authorizer>> {
        let config = self
            .config()
            .servers
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownServer(name.to_owned()))?;
        authorizer(
            self.relay.context(),
            self.relay.options().max_frame_bytes,
            name,
            &config,
        )
    }

    /// Starts signing in to OAuth server `name` (see [`start`]).
    pub async fn start_sign_in(&self, name: &str) -> Result<SignIn> {
        start(&*self.authorizer_for(name)?).await
    }

    /// Waits for the browser's redirect of a sign-in [`Hub::start_sign_in`] began, keeps
    /// the tokens in the keychain, and the running server uses them from its next request.
    pub async fn finish_sign_in(&self, name: &str, sign_in: SignIn) -> Result<AuthStatus> {
        let result = sign_in.finish(SIGN_IN_TIMEOUT).await;
        self.after_auth_change(name).await;
        result.map_err(|e| Error::Upstream {
            server: name.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(status) = self.auth_status(name) {
            return Ok(status);
        }
        // Not running (turned off): its state as the keychain holds it.
        let authorizer = self.authorizer_for(name)?;
        let _ = authorizer.reload().await;
        Ok(authorizer.status())
    }

    /// Signs out of OAuth server `name` (see [`sign_out`]).
    pub async fn sign_out(&self, name: &str) -> Result<()> {
        sign_out(&*self.authorizer_for(name)?).await?;
        self.after_auth_change(name).await;
        Ok(())
    }

    /// What discovery finds for OAuth server `name`, without signing in.
    pub async fn discover_auth(&self, name: &str) -> Result<AuthDiscovery> {
        discover(&*self.authorizer_for(name)?).await
    }

    /// The running server's sign-in state, if it is an enabled OAuth server.
    pub fn auth_status(&self, name: &str) -> Option<AuthStatus> {
        let server = self.relay.server(name).ok()?;
        server.remote_authorizer().map(|a| a.status())
    }

    /// The running server (if any) reads the keychain again, and the views follow.
    async fn after_auth_change(&self, name: &str) {
        if let Ok(server) = self.relay.server(name)
            && let Some(authorizer) = server.remote_authorizer()
        {
            let _ = authorizer.reload().await;
        }
        self.relay
            .context()
            .changes
            .send_modify(|n| *n = n.wrapping_add(1));
    }
}
