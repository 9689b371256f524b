//! Client assertions for `private_key_jwt` (RFC 7523 §2.2, RFC 7521): a short-lived JWT
//! signed with the client's P-256 key (ES256), whose audience is the authorization server's
//! issuer.

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use super::OAuthError;
use super::store::now;
use crate::sensitive::Sensitive;

/// How long an assertion is valid.
const LIFETIME_SECS: u64 = 300;

/// A signed assertion for `client_id` at the authorization server `issuer`.
pub fn client_assertion(
    client_id: &str,
    issuer: &str,
    key_pem: &Sensitive<String>,
) -> Result<Sensitive<String>, OAuthError> {
    let der = pem_body(key_pem.expose()).ok_or_else(|| {
        OAuthError::Failed(
            "the client key is not a PEM \"PRIVATE KEY\" (PKCS#8); give a P-256 key".into(),
        )
    })?;
    let rng = SystemRandom::new();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).map_err(|_| {
            OAuthError::Failed("the client key is not a P-256 (ES256) private key".into())
        })?;
    let issued = now();
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).expect("the OS random source is available");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = json!({"alg": "ES256", "typ": "JWT"}).to_string();
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": issuer,
        "iat": issued,
        "exp": issued + LIFETIME_SECS,
        "jti": b64(&jti),
    })
    .to_string();
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = key
        .sign(&rng, signing_input.as_bytes())
        .map_err(|_| OAuthError::Failed("signing the client assertion failed".into()))?;
    let assertion = Sensitive::new(format!("{signing_input}.{}", b64(signature.as_ref())));
    crate::redact::global().register_secret(&assertion);
    Ok(assertion)
}

/// The DER inside `-----BEGIN PRIVATE KEY-----`.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN PRIVATE KEY-----")? + "-----BEGIN PRIVATE KEY-----".len();
    let end = pem[start..].find("-----END PRIVATE KEY-----")? + start;
    let body: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};

    #[test]
    fn an_assertion_verifies_with_the_public_key_and_names_the_issuer() {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a key");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("parse");
        let jwt = client_assertion("client-1", "https://as.example.com", &Sensitive::new(pem))
            .expect("an assertion");
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["aud"], "https://as.example.com");
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref());
        public
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &b64.decode(parts[2]).expect("b64"),
            )
            .expect("the signature verifies");
        assert!(client_assertion("c", "i", &Sensitive::new("not a key".into())).is_err());
    }
}
