//! A server's sign-in while Switchboard runs: the access token for each request, refreshed
//! shortly before it expires (checked by the wall clock on every use, so a computer that
//! slept past the expiry refreshes at its first request), again after a 401, and a visible
//! "needs sign-in" when the authorization server refuses; never a silent failure.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::challenge::Challenge;
use super::flow::{self, Context, TokenError};
use super::store::{Record, Tokens, now};
use super::{Grant, OAuthError, Settings};
use crate::secrets::{Resolver, SecretName};
use crate::sensitive::Sensitive;

/// Where a server's sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthState {
    /// Not yet read from the keychain.
    Unknown,
    SignedIn,
    /// Never signed in, or signed out.
    SignedOut,
    /// Signed in once, but the tokens no longer work (refresh refused, revoked, more scope
    /// wanted): a person must sign in again.
    NeedsSignIn,
}

/// What the window, the tray and `/status` show of a server's sign-in. Never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthStatus {
    pub state: AuthState,
    /// Who is signed in, when the authorization server says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// When the access token expires (seconds since the Unix epoch); it is refreshed
    /// before then when there is a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Whether a refresh token is kept (so expiry is handled without the person).
    pub refreshable: bool,
    /// Why sign-in is needed, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `true` for the client-credentials grant: no person signs in.
    pub machine: bool,
}

impl AuthStatus {
    fn of(record: &Record, grant: Grant) -> AuthStatus {
        let tokens = record.tokens.as_ref();
        AuthStatus {
            state: if tokens.is_some() {
                AuthState::SignedIn
            } else {
                AuthState::SignedOut
            },
            account: tokens.and_then(|t| t.account.clone()),
            issuer: tokens.and(record.issuer.clone()),
            expires_at: tokens.and_then(|t| t.expires_at),
            scope: tokens.and_then(|t| t.scope.clone()),
            refreshable: tokens.is_some_and(|t| t.refresh_token.is_some()),
            message: None,
            machine: grant == Grant::ClientCredentials,
        }
    }
}

/// One server's token source, shared by all its sessions.
pub struct Authorizer {
    ctx: Context,
    /// The settings, the client secret not yet read (see [`Authorizer::settings`]).
    settings: Settings,
    /// The keychain names of the client secret and key, read when a token is requested.
    client_secret: Option<SecretName>,
    client_key: Option<SecretName>,
    secrets: Resolver,
    /// `None` until read from the keychain. The lock also serialises refreshes, so many
    /// sessions whose token expired at once refresh it once.
    record: tokio::sync::Mutex<Option<Record>>,
    status: Mutex<AuthStatus>,
    on_change: Arc<dyn Fn() + Send + Sync>,
}

impl Authorizer {
    /// `on_change` is called whenever [`Authorizer::status`] changes.
    pub fn new(
        ctx: Context,
        settings: Settings,
        client_secret: Option<SecretName>,
        client_key: Option<SecretName>,
        secrets: Resolver,
        on_change: Arc<dyn Fn() + Send + Sync>,
    ) -> Arc<Authorizer> {
        let machine = settings.grant == Grant::ClientCredentials;
        let authorizer = Arc::new(Authorizer {
            ctx,
            settings,
            client_secret,
            client_key,
            secrets,
            record: tokio::sync::Mutex::new(None),
            status: Mutex::new(AuthStatus {
                state: AuthState::Unknown,
                account: None,
                issuer: None,
                expires_at: None,
                scope: None,
                refreshable: false,
                message: None,
                machine,
            }),
            on_change,
        });
        // Read what the keychain holds now, so the status shows it before the first use.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&authorizer);
            runtime.spawn(async move {
                if let Some(authorizer) = weak.upgrade() {
                    let _ = authorizer.reload().await;
                }
            });
        }
        authorizer
    }

    pub fn server(&self) -> &str {
        &self.ctx.server
    }

    /// Where the server is, how to fetch and where tokens are kept: for a sign-in.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The settings with the client secret read from the keychain now.
    pub async fn settings(&self) -> Result<Settings, OAuthError> {
        let mut settings = self.settings.clone();
        let read = async |name: &SecretName| {
            self.secrets
                .secret(&self.ctx.server, name)
                .await
                .map_err(|e| OAuthError::Keychain(e.to_string()))
        };
        if let Some(name) = &self.client_secret {
            settings.client_secret = Some(read(name).await?);
        }
        if let Some(name) = &self.client_key {
            settings.client_key = Some(read(name).await?);
        }
        Ok(settings)
    }

    /// Forgets the tokens (the caller removed them from the keychain): signed out.
    pub async fn signed_out(&self) {
        let mut guard = self.record.lock().await;
        *guard = Some(Record::default());
        self.set_status(AuthStatus::of(&Record::default(), self.settings.grant));
    }

    pub fn status(&self) -> AuthStatus {
        lock(&self.status).clone()
    }

    fn set_status(&self, status: AuthStatus) {
        let changed = {
            let mut current = lock(&self.status);
            let changed = *current != status;
            *current = status;
            changed
        };
        if changed {
            (self.on_change)();
        }
    }

    fn needs_sign_in(&self, record: &Record, message: String) {
        let current = lock(&self.status).clone();
        // Said once, not at every background read of the keychain.
        if current.state != AuthState::NeedsSignIn || current.message.as_deref() != Some(&message) {
            log::warn!("'{}': {message}", self.ctx.server);
        }
        let mut status = AuthStatus::of(record, self.settings.grant);
        status.state = AuthState::NeedsSignIn;
        status.message = Some(message);
        self.set_status(status);
    }

    /// Reads the keychain again (after a sign-in, a sign-out, or another process's refresh).
    pub async fn reload(&self) -> Result<(), OAuthError> {
        let mut guard = self.record.lock().await;
        self.reload_locked(&mut guard).await
    }

    async fn reload_locked(&self, guard: &mut Option<Record>) -> Result<(), OAuthError> {
        let record = match self.ctx.store.load(&self.ctx.server).await {
            Ok(record) => record,
            Err(e) => {
                // No keychain (or an unreadable item): a visible state, never a fallback.
                self.needs_sign_in(&Record::default(), e.to_string());
                return Err(e);
            }
        };
        let keep_needs = lock(&self.status).state == AuthState::NeedsSignIn
            && guard.as_ref().and_then(|r| r.tokens.as_ref()) == record.tokens.as_ref();
        if !keep_needs {
            self.set_status(AuthStatus::of(&record, self.settings.grant));
        }
        *guard = Some(record);
        Ok(())
    }

    /// The access token for the next request: refreshed first when it expires soon, and
    /// for the client-credentials grant obtained when there is none.
    pub async fn access_token(&self) -> Result<Sensitive<String>, OAuthError> {
        let mut guard = self.record.lock().await;
        if guard.is_none() || lock(&self.status).state != AuthState::SignedIn {
            self.reload_locked(&mut guard).await?;
        }
        let record = guard.get_or_insert_with(Record::default);
        if lock(&self.status).state == AuthState::NeedsSignIn {
            let message = lock(&self.status)
                .message
                .clone()
                .unwrap_or_else(|| "sign in again".into());
            return Err(OAuthError::NeedsSignIn(message));
        }
        let Some(tokens) = &record.tokens else {
            if self.settings.grant == Grant::ClientCredentials {
                return self.client_credentials_locked(record, None).await;
            }
            return Err(OAuthError::NeedsSignIn(format!(
                "'{}' is not signed in; sign in from Switchboard's window or run `switchboard login {}`",
                self.ctx.server, self.ctx.server
            )));
        };
        if expires_soon(tokens) {
            return self.renew_locked(record).await;
        }
        Ok(Sensitive::new(tokens.access_token.clone()))
    }

    /// A request carrying `token` was refused (401, or 403 with a challenge). Returns a
    /// token worth one retry, or `None` (the status then says what the person must do).
    pub async fn rejected(
        &self,
        token: &Sensitive<String>,
        status: u16,
        challenges: &[String],
    ) -> Option<Sensitive<String>> {
        let challenge = Challenge::parse(challenges.iter().map(String::as_str));
        let mut guard = self.record.lock().await;
        if self.reload_locked(&mut guard).await.is_err() {
            return None;
        }
        let record = guard.get_or_insert_with(Record::default);
        if challenge
            .as_ref()
            .is_some_and(Challenge::is_insufficient_scope)
        {
            // Step-up: a person must grant more. The scope is kept for the next sign-in.
            let wanted = challenge.as_ref().and_then(|c| c.scope.clone());
            record.wanted_scope =
                flow::merge_scopes(record.wanted_scope.as_deref(), wanted.as_deref());
            let _ = self.ctx.store.save(&self.ctx.server, record).await;
            if self.settings.grant == Grant::ClientCredentials {
                return self.client_credentials_locked(record, challenge).await.ok();
            }
            self.needs_sign_in(
                record,
                format!(
                    "the server wants more permission ({}); sign in again to grant it",
                    wanted.as_deref().unwrap_or("a wider scope")
                ),
            );
            return None;
        }
        if status == 403 {
            // Forbidden for another reason: a new token would not change it.
            return None;
        }
        // Another process (or session) may already hold a newer token.
        if let Some(tokens) = &record.tokens
            && tokens.access_token != *token.expose()
            && !expires_soon(tokens)
        {
            return Some(Sensitive::new(tokens.access_token.clone()));
        }
        if self.settings.grant == Grant::ClientCredentials {
            return self.client_credentials_locked(record, challenge).await.ok();
        }
        if record.tokens.is_none() {
            self.needs_sign_in(record, "not signed in".into());
            return None;
        }
        self.renew_locked(record).await.ok()
    }

    /// Refresh (or, for client credentials, a new token). On refusal the status becomes
    /// "needs sign-in".
    async fn renew_locked(&self, record: &mut Record) -> Result<Sensitive<String>, OAuthError> {
        if self.settings.grant == Grant::ClientCredentials {
            return self.client_credentials_locked(record, None).await;
        }
        let settings = self.settings().await?;
        match flow::refresh(&self.ctx, &settings, record).await {
            Ok(tokens) => {
                let token = Sensitive::new(tokens.access_token.clone());
                record.tokens = Some(tokens);
                self.ctx.store.save(&self.ctx.server, record).await?;
                log::info!("'{}': access token refreshed", self.ctx.server);
                self.set_status(AuthStatus::of(record, self.settings.grant));
                Ok(token)
            }
            Err(TokenError::Refused(why)) => {
                let message = format!(
                    "the authorization server refused to renew the sign-in ({why}); sign in again"
                );
                self.needs_sign_in(record, message.clone());
                Err(OAuthError::NeedsSignIn(message))
            }
            // Unreachable or broken: the tokens may still be good later; not a sign-in.
            Err(TokenError::Other(e)) => Err(e),
        }
    }

    async fn client_credentials_locked(
        &self,
        record: &mut Record,
        challenge: Option<Challenge>,
    ) -> Result<Sensitive<String>, OAuthError> {
        let mut settings = match self.settings().await {
            Ok(settings) => settings,
            Err(e) => {
                self.needs_sign_in(record, e.to_string());
                return Err(e);
            }
        };
        settings.scope =
            flow::merge_scopes(settings.scope.as_deref(), record.wanted_scope.as_deref());
        match flow::client_credentials(&self.ctx, &settings, challenge).await {
            Ok(fresh) => {
                *record = fresh;
                self.set_status(AuthStatus::of(record, self.settings.grant));
                let token = record
                    .tokens
                    .as_ref()
                    .map(|t| Sensitive::new(t.access_token.clone()))
                    .ok_or_else(|| OAuthError::Failed("no token".into()))?;
                Ok(token)
            }
            Err(e) => {
                self.needs_sign_in(record, e.to_string());
                Err(e)
            }
        }
    }
}

/// Whether an access token should be renewed before use: within a fifth of its lifetime
/// (at most a minute) of its expiry, or past it.
fn expires_soon(tokens: &Tokens) -> bool {
    let Some(expires_at) = tokens.expires_at else {
        return false;
    };
    let lifetime = expires_at.saturating_sub(tokens.obtained_at);
    let margin = (lifetime / 5).min(60);
    now().saturating_add(margin) >= expires_at
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(obtained_at: u64, expires_at: Option<u64>) -> Tokens {
        Tokens {
            access_token: "a".into(),
            refresh_token: None,
            expires_at,
            scope: None,
            account: None,
            obtained_at,
        }
    }

    #[test]
    fn tokens_are_renewed_shortly_before_they_expire_and_after() {
        let t = now();
        assert!(!expires_soon(&tokens(t, None)));
        assert!(!expires_soon(&tokens(t, Some(t + 3600))));
        assert!(expires_soon(&tokens(t - 3600, Some(t + 30))));
        // A computer that slept past the expiry.
        assert!(expires_soon(&tokens(t - 7200, Some(t - 3600))));
        // A short-lived token: renewed in its last fifth.
        assert!(!expires_soon(&tokens(t, Some(t + 10))));
        assert!(expires_soon(&tokens(t - 9, Some(t + 1))));
    }
}
