//! Secrets: the OS keychain (one item per secret, namespaced by the app identifier), an
//! in-memory store for tests, and [`Sensitive`], a wrapper that never prints its value.
//!
//! **Invariant:** there is no plaintext fallback. When the keychain cannot be reached, the
//! error says why and what to do, and the caller fails closed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use keyring_core::CredentialStore;

/// The keychain service name every Switchboard secret is filed under.
pub const KEYCHAIN_SERVICE: &str = "dev.switchboard.app";

/// A secret value. `Debug` and `Display` print `<redacted>`; there is no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The value itself. Call sites are the places a secret is really used; keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
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
    fn sensitive_values_never_print() {
        let secret = Sensitive::new("hunter2".to_owned());
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
        assert_eq!(secret.expose(), "hunter2");
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
