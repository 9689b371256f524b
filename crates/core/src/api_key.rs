//! The local API key: generated on first run, kept in the keychain, checked in constant time.

use std::sync::{Arc, RwLock};

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secrets::{SecretError, SecretStore, Sensitive};

/// Every key starts with this, so secret scanners can find one that leaked
/// (pattern: `sbk_[A-Za-z0-9_-]{43}`).
pub const KEY_PREFIX: &str = "sbk_";
/// The keychain item that holds the key.
pub const KEYCHAIN_ITEM: &str = crate::secrets::API_KEY_ITEM;

/// A new key: 256 bits from the OS random source, base64url, with [`KEY_PREFIX`].
pub fn generate() -> Sensitive<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Sensitive::new(format!("{KEY_PREFIX}{body}"))
}

/// The keychain item of profile `profile`'s own key. The `:` keeps it out of what a
/// [`crate::secrets::SecretName`] can name, so no server can be given it.
pub fn profile_item(profile: &str) -> String {
    format!("profile-key:{profile}")
}

/// The key in `store`, created and stored there on first use.
pub fn load_or_create(store: &dyn SecretStore) -> Result<Sensitive<String>, SecretError> {
    load_or_create_at(store, KEYCHAIN_ITEM, "the API key")
}

/// Replaces the key in `store` with a new one and returns it.
pub fn rotate(store: &dyn SecretStore) -> Result<Sensitive<String>, SecretError> {
    rotate_at(store, KEYCHAIN_ITEM, "the API key")
}

/// The key in `item` of `store` (`what` names it in the log), created there on first use.
pub fn load_or_create_at(
    store: &dyn SecretStore,
    item: &str,
    what: &str,
) -> Result<Sensitive<String>, SecretError> {
    if let Some(key) = store.get(item)? {
        return Ok(key);
    }
    let key = generate();
    store.set(item, &key)?;
    log::info!("generated {what} and stored it in the {}", store.describe());
    Ok(key)
}

/// Replaces the key in `item` of `store` with a new one and returns it.
pub fn rotate_at(
    store: &dyn SecretStore,
    item: &str,
    what: &str,
) -> Result<Sensitive<String>, SecretError> {
    let key = generate();
    store.set(item, &key)?;
    log::info!("rotated {what} in the {}", store.describe());
    Ok(key)
}

/// The key the proxy currently accepts, as a digest; swapped in place on rotation.
#[derive(Default)]
pub struct LiveKey {
    digest: RwLock<Option<[u8; 32]>>,
}

impl LiveKey {
    pub fn new(key: &Sensitive<String>) -> Arc<LiveKey> {
        let live = Arc::new(LiveKey::default());
        live.replace(key);
        live
    }

    /// Accepts `key` from now on, and no other.
    pub fn replace(&self, key: &Sensitive<String>) {
        let digest = digest(key.expose());
        *self.digest.write().unwrap_or_else(|p| p.into_inner()) = Some(digest);
    }

    /// Whether `presented` is the key. Both sides are hashed first, so the comparison takes
    /// the same time whatever the length or content of the guess.
    pub fn verify(&self, presented: &str) -> bool {
        let expected = *self.digest.read().unwrap_or_else(|p| p.into_inner());
        match expected {
            Some(expected) => bool::from(digest(presented).ct_eq(&expected)),
            None => false,
        }
    }

    /// Whether `key` is the one accepted now (to notice a rotation made elsewhere).
    pub fn is(&self, key: &Sensitive<String>) -> bool {
        self.verify(key.expose())
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;

    #[test]
    fn keys_are_long_random_and_recognizable() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + 43);
        assert!(
            a.expose()[KEY_PREFIX.len()..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn created_once_then_read_back_then_rotated() {
        let store = MemoryStore::default();
        let first = load_or_create(&store).unwrap();
        assert_eq!(load_or_create(&store).unwrap(), first);
        let second = rotate(&store).unwrap();
        assert_ne!(first, second);
        assert_eq!(load_or_create(&store).unwrap(), second);
    }

    #[test]
    fn only_the_live_key_verifies() {
        let key = generate();
        let live = LiveKey::new(&key);
        assert!(live.verify(key.expose()));
        assert!(!live.verify(""));
        assert!(!live.verify(&key.expose()[..10]));
        assert!(!live.verify(&format!("{} ", key.expose())));
        let next = generate();
        live.replace(&next);
        assert!(!live.verify(key.expose()));
        assert!(live.is(&next));
    }
}
