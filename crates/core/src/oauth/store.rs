//! Where a server's sign-in lives: one keychain item, `oauth:<server>`, holding the tokens,
//! the issuer that granted them and the client registrations per issuer. The `:` keeps the
//! name out of reach of every `SecretName`, so no config entry can hand it to a child or
//! another server. Nothing of it is ever written to the config file or a log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::secrets::SecretStore;
use crate::sensitive::Sensitive;

/// The keychain item of server `server`'s sign-in.
pub fn item_name(server: &str) -> String {
    format!("oauth:{server}")
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// A public client: `client_id` in the form, no secret.
    #[default]
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// A signed client assertion (RFC 7523), with the key from the settings.
    PrivateKeyJwt,
}

impl TokenAuth {
    pub fn from_name(name: &str) -> Option<TokenAuth> {
        match name {
            "none" => Some(TokenAuth::None),
            "client_secret_basic" => Some(TokenAuth::ClientSecretBasic),
            "client_secret_post" => Some(TokenAuth::ClientSecretPost),
            "private_key_jwt" => Some(TokenAuth::PrivateKeyJwt),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TokenAuth::None => "none",
            TokenAuth::ClientSecretBasic => "client_secret_basic",
            TokenAuth::ClientSecretPost => "client_secret_post",
            TokenAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// How Switchboard is known to one authorization server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRegistration {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub token_auth: TokenAuth,
    /// `configured`, `metadata-document` or `dynamic`.
    pub how: String,
    /// The redirect URIs registered (dynamic registration binds them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token_auth", &self.token_auth)
            .field("how", &self.how)
            .finish()
    }
}

/// The tokens of one sign-in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds since the Unix epoch (wall clock, so a computer that slept past it knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Who signed in, when the authorization server says (an ID token or a JWT access
    /// token's claims), for the window; never used to decide anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When the tokens were obtained or last refreshed.
    #[serde(default)]
    pub obtained_at: u64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Everything kept for one server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The issuer the tokens came from; tokens are never used with another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// The `resource` the tokens were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// Client registrations by issuer: reused with the same issuer only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clients: BTreeMap<String, ClientRegistration>,
    /// Scopes a server asked for more of (step-up), kept for the next sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted_scope: Option<String>,
}

impl Record {
    /// The client registration for `issuer`, if any.
    pub fn client_for(&self, issuer: &str) -> Option<&ClientRegistration> {
        self.clients.get(issuer)
    }
}

/// Reads and writes records in a keychain.
#[derive(Clone)]
pub struct TokenStore {
    /// `None`: no keychain could be opened. Tokens are then neither read nor kept (never
    /// written anywhere else), and every use says so.
    store: Option<Arc<dyn SecretStore>>,
}

impl TokenStore {
    pub fn new(store: Option<Arc<dyn SecretStore>>) -> TokenStore {
        TokenStore { store }
    }

    fn store(&self) -> Result<Arc<dyn SecretStore>, OAuthError> {
        self.store.clone().ok_or_else(|| {
            OAuthError::Keychain(
                "no keychain is available to this process, and sign-in tokens are kept only there"
                    .into(),
            )
        })
    }

    /// The record of `server` (an empty one if there is none). Every token read is
    /// registered with the redactor before it can reach a log.
    pub async fn load(&self, server: &str) -> Result<Record, OAuthError> {
        let store = self.store()?;
        let name = item_name(server);
        let value = tokio::task::spawn_blocking(move || store.get(&name))
            .await
            .map_err(|e| OAuthError::Keychain(e.to_string()))?
            .map_err(|e| OAuthError::Keychain(e.to_string()))?;
        let Some(value) = value else {
            return Ok(Record::default());
        };
        let record: Record = serde_json::from_str(value.expose()).map_err(|_| {
            OAuthError::Keychain(format!(
                "the sign-in kept for '{server}' is unreadable; sign in again"
            ))
        })?;
        register(&record);
        Ok(record)
    }

    pub async fn save(&self, server: &str, record: &Record) -> Result<(), OAuthError> {
        register(record);
        let store = self.store()?;
        let name = item_name(server);
        let value = Sensitive::new(
            serde_json::to_string(record).map_err(|e| OAuthError::Keychain(e.to_string()))?,
        );
        tokio::task::spawn_blocking(move || store.set(&name, &value))
            .await
            .map_err(|e| OAuthError::Keychain(e.to_string()))?
            .map_err(|e| OAuthError::Keychain(e.to_string()))
    }

    pub async fn delete(&self, server: &str) -> Result<(), OAuthError> {
        let store = self.store()?;
        let name = item_name(server);
        tokio::task::spawn_blocking(move || store.delete(&name))
            .await
            .map_err(|e| OAuthError::Keychain(e.to_string()))?
            .map_err(|e| OAuthError::Keychain(e.to_string()))
    }
}

/// Every token and client secret of a record goes to the redactor.
pub fn register(record: &Record) {
    let redactor = crate::redact::global();
    if let Some(tokens) = &record.tokens {
        redactor.register_secret(&Sensitive::new(tokens.access_token.clone()));
        if let Some(refresh) = &tokens.refresh_token {
            redactor.register_secret(&Sensitive::new(refresh.clone()));
        }
    }
    for client in record.clients.values() {
        if let Some(secret) = &client.client_secret {
            redactor.register_secret(&Sensitive::new(secret.clone()));
        }
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_token_or_secret() {
        let record = Record {
            tokens: Some(Tokens {
                access_token: "at-SECRET-1".into(),
                refresh_token: Some("rt-SECRET-2".into()),
                expires_at: Some(1),
                scope: None,
                account: None,
                obtained_at: 0,
            }),
            clients: [(
                "https://as".to_owned(),
                ClientRegistration {
                    client_id: "id".into(),
                    client_secret: Some("cs-SECRET-3".into()),
                    token_auth: TokenAuth::ClientSecretBasic,
                    how: "dynamic".into(),
                    redirect_uris: vec![],
                },
            )]
            .into(),
            ..Record::default()
        };
        let shown = format!("{record:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
