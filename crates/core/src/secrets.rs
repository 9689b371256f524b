//! Secrets: the OS keychain (one item per secret, namespaced by the app identifier), an
//! in-memory store for tests, and [`Sensitive`], a wrapper that never prints its value.
//!
//! **Invariant:** there is no plaintext fallback. When the keychain cannot be reached, the
//! error says why and what to do, and the caller fails closed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use keyring_core::CredentialStore;
use serde::{Deserialize, Serialize};

pub use crate::sensitive::Sensitive;

/// The keychain service name every Switchboard secret is filed under.
pub const KEYCHAIN_SERVICE: &str = "dev.switchboard.app";

/// The keychain item of the proxy's own API key. No [`SecretName`] can name it: a server's
/// config cannot read it, and nothing but the key operations can overwrite or delete it.
pub const API_KEY_ITEM: &str = "api-key";

/// Names of keychain items Switchboard keeps for itself.
const RESERVED_NAMES: &[&str] = &[API_KEY_ITEM];

// === secret names ===

/// The name of a user's secret in the keychain: 1 to 128 of `A-Z a-z 0-9 _ - .`, and not a
/// name Switchboard keeps for itself. The one rule, for every way in: the config file
/// (`{"secret": NAME}`), the CLI, the desktop's IPC commands and the Hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

/// Why a string cannot be a [`SecretName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecretName {
    #[error("'{0}' cannot be a secret name: use 1 to 128 of A-Z, a-z, 0-9, '_', '-', '.'")]
    Malformed(String),
    #[error(
        "'{0}' is Switchboard's own API key, not a server's secret; use `switchboard key rotate` to change it"
    )]
    Reserved(String),
}

impl SecretName {
    pub fn new(name: &str) -> Result<SecretName, InvalidSecretName> {
        let well_formed = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !well_formed {
            // Shown back to the user: cut it, it may be a pasted value.
            let shown: String = name.chars().take(40).collect();
            return Err(InvalidSecretName::Malformed(shown));
        }
        if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(InvalidSecretName::Reserved(name.to_owned()));
        }
        Ok(SecretName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SecretName {
    type Error = InvalidSecretName;
    fn try_from(name: String) -> Result<SecretName, InvalidSecretName> {
        SecretName::new(&name)
    }
}

impl From<SecretName> for String {
    fn from(name: SecretName) -> String {
        name.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SecretName {
    type Err = InvalidSecretName;
    fn from_str(name: &str) -> Result<SecretName, InvalidSecretName> {
        SecretName::new(name)
    }
}

/// A value written in the config, or a reference to a secret in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ValueSource {
    Literal(String),
    Secret { secret: SecretName },
}

impl ValueSource {
    pub fn secret(name: SecretName) -> Self {
        ValueSource::Secret { secret: name }
    }
}

/// By hand rather than `untagged`, so a bad reference says what is wrong with it (serde's
/// untagged enums only say that nothing matched).
impl<'de> Deserialize<'de> for ValueSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ValueSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or {\"secret\": NAME} naming a secret in the keychain")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ValueSource, E> {
                Ok(ValueSource::Literal(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ValueSource, E> {
                Ok(ValueSource::Literal(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ValueSource, A::Error> {
                let mut secret = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "secret" || secret.is_some() {
                        return Err(serde::de::Error::custom(format!(
                            "unexpected \"{key}\" in a secret reference; write {{\"secret\": NAME}}"
                        )));
                    }
                    secret = Some(map.next_value::<SecretName>()?);
                }
                secret.map(ValueSource::secret).ok_or_else(|| {
                    serde::de::Error::custom("a secret reference needs \"secret\": NAME")
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

// === reading secrets for servers ===

/// Reads the secrets a server's config names, when a child is spawned or a remote session
/// opens (never earlier, so a changed secret applies to the next session). Every value read
/// is registered with the redactor before anyone can log it.
#[derive(Clone)]
pub struct Resolver {
    store: Option<Arc<dyn SecretStore>>,
}

impl Resolver {
    /// `None`: no keychain could be opened; every read then fails and says so.
    pub fn new(store: Option<Arc<dyn SecretStore>>) -> Resolver {
        Resolver { store }
    }

    pub fn store(&self) -> Option<&Arc<dyn SecretStore>> {
        self.store.as_ref()
    }

    /// The secret `name`, for server `server` (named in the error).
    pub async fn secret(
        &self,
        server: &str,
        name: &SecretName,
    ) -> crate::Result<Sensitive<String>> {
        let missing = |message: String| crate::Error::Secret {
            server: server.to_owned(),
            secret: name.to_string(),
            message,
        };
        let store = self
            .store
            .clone()
            .ok_or_else(|| missing("no keychain is available to this process".into()))?;
        let key = name.clone();
        let value = tokio::task::spawn_blocking(move || store.get(key.as_str()))
            .await
            .map_err(|e| missing(e.to_string()))?
            .map_err(|e| missing(e.to_string()))?
            .ok_or_else(|| {
                missing(format!(
                    "it is not set; run `switchboard secret set {name}`"
                ))
            })?;
        crate::redact::global().register_secret(&value);
        Ok(value)
    }

    /// A literal, or the secret it names.
    pub async fn value(
        &self,
        server: &str,
        source: &ValueSource,
    ) -> crate::Result<Sensitive<String>> {
        match source {
            ValueSource::Literal(value) => Ok(Sensitive::new(value.clone())),
            ValueSource::Secret { secret } => self.secret(server, secret).await,
        }
    }
}

/// What went wrong with a secret store. Messages never contain secret values.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the OS keychain is unavailable ({cause}). {fix}")]
    Unavailable { cause: String, fix: String },
    #[error("the keychain refused to {action} secret '{name}': {cause}")]
    Failed {
        action: &'static str,
        name: String,
        cause: String,
    },
}

/// Prefixes of well-known token formats (GitHub, GitLab, OpenAI/Anthropic-style `sk-`,
/// Slack, AWS access keys, Google API keys, Hugging Face, Switchboard's own key) and auth
/// schemes.
pub const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk_live_",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "AIza",
    "hf_",
    "sbk_",
    "Bearer ",
    "Basic ",
];

/// Whether a named value (an environment variable, a header) looks like a credential: by
/// its name (`*TOKEN*`, `*KEY*`, `*SECRET*`, `*PASSWORD*`, `Authorization`, `Cookie`, …)
/// or by a well-known token prefix of the value. Empty values never do.
pub fn looks_like_credential(name: &str, value: &str) -> bool {
    let by_name = crate::url_policy::query_key::looks_secret(name)
        || name.eq_ignore_ascii_case("cookie")
        || name.eq_ignore_ascii_case("proxy-authorization");
    let by_value = TOKEN_PREFIXES.iter().any(|p| value.starts_with(p));
    !value.is_empty() && (by_name || by_value)
}

impl SecretName {
    /// `<server>.<NAME>`, made a valid secret name: where a value of a server's `env` or
    /// `headers` goes when it moves into the keychain.
    pub fn derived(server: &str, name: &str) -> Result<SecretName, InvalidSecretName> {
        let cleaned: String = format!("{server}.{name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .take(128)
            .collect();
        SecretName::new(&cleaned)
    }
}

/// Where secrets live.
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` when it was never set.
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>, SecretError>;
    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<(), SecretError>;
    /// Removes the secret; removing a missing one is not an error.
    fn delete(&self, name: &str) -> Result<(), SecretError>;
    /// A human name for logs and `doctor` output ("Secret Service", "memory").
    fn describe(&self) -> &'static str;
}

// === the OS keychain ===

/// The platform keychain: Secret Service on Linux, Keychain on macOS, Credential Manager on
/// Windows.
pub struct KeychainStore {
    store: Arc<CredentialStore>,
    service: String,
}

impl KeychainStore {
    /// Connects to the platform keychain, under `service` (normally [`KEYCHAIN_SERVICE`]).
    pub fn open(service: &str) -> Result<KeychainStore, SecretError> {
        let store = platform_store().map_err(|e| unavailable(&e))?;
        let keychain = KeychainStore {
            store,
            service: service.to_owned(),
        };
        // Touch the store once so a locked or absent keychain is reported now, not later.
        keychain.get("probe").map(|_| keychain)
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry, keyring_core::Error> {
        self.store.build(&self.service, name, None)
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(windows)]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore(
        "no keychain support on this platform".into(),
    ))
}

const LINUX_FIX: &str = "Switchboard keeps secrets only in the Secret Service (GNOME Keyring, KWallet, KeePassXC). \
Log in to a desktop session, or on a headless machine run it inside one: \
`dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets <<< \"$KEYRING_PASSWORD\"; switchboard serve'`. \
For the API key alone you can instead pass --api-key or SWITCHBOARD_API_KEY.";
const OTHER_FIX: &str = "Unlock the OS keychain and try again, or pass the API key with --api-key or SWITCHBOARD_API_KEY.";

fn unavailable(e: &keyring_core::Error) -> SecretError {
    SecretError::Unavailable {
        cause: e.to_string(),
        fix: if cfg!(target_os = "linux") {
            LINUX_FIX
        } else {
            OTHER_FIX
        }
        .to_owned(),
    }
}

fn failed(action: &'static str, name: &str, e: &keyring_core::Error) -> SecretError {
    match e {
        keyring_core::Error::NoStorageAccess(_) | keyring_core::Error::PlatformFailure(_) => {
            unavailable(e)
        }
        _ => SecretError::Failed {
            action,
            name: name.to_owned(),
            cause: e.to_string(),
        },
    }
}

impl SecretStore for KeychainStore {
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>, SecretError> {
        let entry = self.entry(name).map_err(|e| failed("read", name, &e))?;
        match entry.get_password() {
            Ok(value) => Ok(Some(Sensitive::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(failed("read", name, &e)),
        }
    }

    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<(), SecretError> {
        let entry = self.entry(name).map_err(|e| failed("store", name, &e))?;
        entry
            .set_password(value.expose())
            .map_err(|e| failed("store", name, &e))
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        let entry = self.entry(name).map_err(|e| failed("delete", name, &e))?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(failed("delete", name, &e)),
        }
    }

    fn describe(&self) -> &'static str {
        if cfg!(target_os = "linux") {
            "Secret Service"
        } else if cfg!(target_os = "macos") {
            "macOS Keychain"
        } else {
            "Windows Credential Manager"
        }
    }
}

// === in memory, for tests ===

/// Secrets in a map, gone with the process. For tests only.
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<String, String>>,
}

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>, SecretError> {
        Ok(self.lock().get(name).cloned().map(Sensitive::new))
    }

    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<(), SecretError> {
        self.lock().insert(name.to_owned(), value.expose().clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        self.lock().remove(name);
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "memory"
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_one_rule_and_the_api_key_is_reserved() {
        for good in ["GITHUB_TOKEN", "a", "my.key-2", &"x".repeat(128)] {
            assert_eq!(SecretName::new(good).expect(good).as_str(), good);
        }
        for bad in ["", "has space", "a/b", "ключ", &"x".repeat(129)] {
            assert!(
                matches!(SecretName::new(bad), Err(InvalidSecretName::Malformed(_))),
                "{bad}"
            );
        }
        for reserved in [API_KEY_ITEM, "API-KEY", "Api-Key"] {
            let err = SecretName::new(reserved).expect_err(reserved);
            assert!(matches!(err, InvalidSecretName::Reserved(_)));
            assert!(err.to_string().contains("key rotate"), "{err}");
        }
        // The same rule applies to a reference in the config.
        let parsed: Result<ValueSource, _> = serde_json::from_str(r#"{"secret": "api-key"}"#);
        assert!(parsed.is_err());
        let parsed: ValueSource = serde_json::from_str(r#"{"secret": "TOKEN"}"#).expect("valid");
        assert_eq!(
            parsed,
            ValueSource::secret(SecretName::new("TOKEN").expect("valid"))
        );
    }

    #[tokio::test]
    async fn the_resolver_reads_now_and_says_what_is_missing() {
        let store = Arc::new(MemoryStore::default());
        let resolver = Resolver::new(Some(store.clone()));
        let name = SecretName::new("TOKEN").expect("valid");
        let err = resolver.secret("srv", &name).await.expect_err("not set");
        assert!(
            err.to_string().contains("switchboard secret set TOKEN"),
            "{err}"
        );
        store
            .set("TOKEN", &Sensitive::new("v1".into()))
            .expect("set");
        let value = resolver
            .value("srv", &ValueSource::secret(name))
            .await
            .expect("set");
        assert_eq!(value.expose(), "v1");
        let none = Resolver::new(None);
        let err = none
            .secret("srv", &SecretName::new("TOKEN").expect("valid"))
            .await
            .expect_err("no keychain");
        assert!(err.to_string().contains("no keychain"), "{err}");
    }

    #[test]
    fn memory_store_round_trip_and_idempotent_delete() {
        let store = MemoryStore::default();
        assert_eq!(store.get("k").unwrap(), None);
        store.set("k", &Sensitive::new("v".into())).unwrap();
        assert_eq!(store.get("k").unwrap().unwrap().expose(), "v");
        store.delete("k").unwrap();
        store.delete("k").unwrap();
        assert_eq!(store.get("k").unwrap(), None);
    }

    #[test]
    fn unavailable_errors_say_how_to_fix_it() {
        let err = unavailable(&keyring_core::Error::NoDefaultStore);
        let text = err.to_string();
        assert!(text.contains("unavailable"));
        assert!(text.contains("--api-key"), "{text}");
    }
}
