//! The Hub's OAuth operations: sign in, sign out, and what discovery finds ("Test
//! connection"). The shells only open the browser (after checking the URL) and show the
//! state; every rule lives in `crate::oauth`.

use std::sync::Arc;

use super::Hub;
use crate::config::{ServerConfig, UpstreamAuth};
use crate::error::{Error, Result};
use crate::oauth::{self, AuthStatus, Authorizer, OAuthError, SignIn};
use crate::upstream::RemoteServer;

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
    /// A stand-alone authorizer for server `name` as configured (enabled or not), with the
    /// running proxy's keychain and change feed.
    fn authorizer_for(&self, name: &str) -> Result<(ServerConfig, Arc<Authorizer>)> {
        let config = self
            .config()
            .servers
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownServer(name.to_owned()))?;
        if !matches!(config.auth, UpstreamAuth::Oauth { .. }) {
            return Err(self.oauth_error(
                name,
                "does not use OAuth (set its auth type to oauth to sign in)".into(),
            ));
        }
        let context = self.relay.context();
        let changes = context.changes.clone();
        let remote = RemoteServer::from_config(
            &Arc::from(name),
            &config,
            context.query_policy.clone(),
            self.relay.options().max_frame_bytes,
            &context.secrets,
            Arc::new(move || changes.send_modify(|n| *n = n.wrapping_add(1))),
        )
        .ok_or_else(|| self.oauth_error(name, "is not a remote server".into()))?;
        let authorizer = remote
            .authorizer()
            .cloned()
            .ok_or_else(|| self.oauth_error(name, "does not use OAuth".into()))?;
        Ok((config, authorizer))
    }

    fn oauth_error(&self, name: &str, message: String) -> Error {
        Error::Upstream {
            server: name.to_owned(),
            message,
        }
    }

    /// Starts signing in to OAuth server `name`: discovery, the client's registration and
    /// the authorization URL (checked: https, or http on loopback for a loopback server).
    /// A loopback listener waits for the browser; [`Hub::finish_sign_in`] completes it.
    pub async fn start_sign_in(&self, name: &str) -> Result<SignIn> {
        let (_, authorizer) = self.authorizer_for(name)?;
        let settings = authorizer
            .settings()
            .await
            .map_err(|e| self.oauth_error(name, e.to_string()))?;
        if settings.grant == oauth::Grant::ClientCredentials {
            return Err(self.oauth_error(
                name,
                "uses the client-credentials grant: no one signs in; its token is fetched when it is used".into(),
            ));
        }
        // A scope a server asked for more of (step-up) is in the keychain record, which
        // the sign-in reads and adds to what it asks for.
        SignIn::start(authorizer.context(), &settings, None)
            .await
            .map_err(|e| self.oauth_error(name, e.to_string()))
    }

    /// Waits for the browser's redirect of a sign-in [`Hub::start_sign_in`] began, keeps
    /// the tokens in the keychain, and the running server uses them from its next request.
    pub async fn finish_sign_in(&self, name: &str, sign_in: SignIn) -> Result<AuthStatus> {
        let result = sign_in.finish(oauth::flow::SIGN_IN_TIMEOUT).await;
        self.after_auth_change(name).await;
        result.map_err(|e| self.oauth_error(name, e.to_string()))?;
        self.auth_status(name)
            .ok_or_else(|| self.oauth_error(name, "is not running".into()))
    }

    /// Signs out: the tokens are revoked where the authorization server offers that (best
    /// effort) and removed from the keychain; the server needs a sign-in again.
    pub async fn sign_out(&self, name: &str) -> Result<()> {
        let (_, authorizer) = self.authorizer_for(name)?;
        if let Ok(settings) = authorizer.settings().await {
            oauth::flow::revoke(authorizer.context(), &settings).await;
        }
        let store = authorizer.context().store.clone();
        store
            .delete(name)
            .await
            .map_err(|e| self.oauth_error(name, e.to_string()))?;
        log::info!("'{name}': signed out; its tokens were removed from the keychain");
        self.after_auth_change(name).await;
        Ok(())
    }

    /// What discovery finds for OAuth server `name`, without signing in.
    pub async fn discover_auth(&self, name: &str) -> Result<AuthDiscovery> {
        let (_, authorizer) = self.authorizer_for(name)?;
        let settings = authorizer
            .settings()
            .await
            .map_err(|e| self.oauth_error(name, e.to_string()))?;
        let ctx = authorizer.context();
        let fail = |e: OAuthError| self.oauth_error(name, e.to_string());
        let challenge = oauth::flow::probe(ctx).await.map_err(fail)?;
        let found = oauth::discovery::discover(&ctx.http, &ctx.server_url, challenge.as_ref())
            .await
            .map_err(fail)?;
        let server = &found.server;
        let registration = if settings.client_id.is_some() {
            "the client configured for it (clientId)".to_owned()
        } else if settings.client_metadata_url.is_some()
            && server.client_id_metadata_document_supported
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
