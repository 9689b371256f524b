//! The grants: authorization code with PKCE (a person signs in), refresh, and client
//! credentials (machine to machine); and the client identity each needs, in the spec's
//! order of preference: a pre-registered client, a client ID metadata document, dynamic
//! client registration (RFC 7591).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::callback::Callback;
use super::challenge::Challenge;
use super::discovery::{self, AuthServer, Discovery};
use super::fetch::{OAuthHttp, host_of};
use super::store::{ClientRegistration, Record, TokenAuth, TokenStore, Tokens, now};
use super::{OAuthError, Settings};
use crate::sensitive::Sensitive;

/// How long a person has to finish signing in in the browser.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// One server's OAuth context: who it is, where it is, how to fetch and where to keep.
#[derive(Clone)]
pub struct Context {
    /// The server's name in Switchboard (the keychain item is named after it).
    pub server: String,
    pub server_url: Url,
    pub http: OAuthHttp,
    pub store: TokenStore,
}

/// The client's identity as the authorization server sees it, with its secret resolved.
#[derive(Clone)]
pub struct Identity {
    pub client_id: String,
    pub secret: Option<Sensitive<String>>,
    /// The private key for `private_key_jwt`.
    pub key: Option<Sensitive<String>>,
    pub auth: TokenAuth,
}

impl Identity {
    fn of(registration: &ClientRegistration) -> Identity {
        Identity {
            client_id: registration.client_id.clone(),
            secret: registration.client_secret.clone().map(Sensitive::new),
            key: None,
            auth: registration.token_auth,
        }
    }

    /// The configured client (`clientId` with its secret or key), authenticating as
    /// `server` allows.
    fn configured(client_id: &str, settings: &Settings, server: Option<&AuthServer>) -> Identity {
        let auth = match (&settings.client_key, &settings.client_secret) {
            (Some(_), _) => TokenAuth::PrivateKeyJwt,
            (None, Some(_)) => server
                .map(secret_auth)
                .unwrap_or(TokenAuth::ClientSecretBasic),
            (None, None) => TokenAuth::None,
        };
        Identity {
            client_id: client_id.to_owned(),
            secret: settings.client_secret.clone(),
            key: settings.client_key.clone(),
            auth,
        }
    }

    /// A client ID metadata document: a public client.
    fn document(url: &Url) -> Identity {
        Identity {
            client_id: url.to_string(),
            secret: None,
            key: None,
            auth: TokenAuth::None,
        }
    }
}

/// A sign-in under way: the browser is to be sent to `authorization_url`; `finish` waits
/// for the redirect and redeems the code.
pub struct SignIn {
    /// Where the person signs in. Checked: `https`, or `http` on loopback for a loopback
    /// server.
    pub authorization_url: Url,
    /// The authorization server's host, to show the person before the browser opens.
    pub host: String,
    /// What discovery looked at, in plain words.
    pub steps: Vec<String>,
    ctx: Context,
    callback: Callback,
    state: Sensitive<String>,
    verifier: Sensitive<String>,
    discovery: Discovery,
    identity: Identity,
    record: Record,
}

impl SignIn {
    /// Discovers the authorization server (from the server's 401, or `challenge` when a
    /// step-up asked for more scope), chooses the client identity and builds the
    /// authorization URL; a loopback listener waits for the redirect.
    pub async fn start(
        ctx: &Context,
        settings: &Settings,
        challenge: Option<Challenge>,
    ) -> Result<SignIn, OAuthError> {
        let challenge = match challenge {
            Some(challenge) => Some(challenge),
            None => probe(ctx).await?,
        };
        let discovery = discovery::discover(&ctx.http, &ctx.server_url, challenge.as_ref()).await?;
        let server = &discovery.server;
        let authorization_endpoint = server.authorization_endpoint.clone().ok_or_else(|| {
            OAuthError::Failed(format!(
                "the authorization server {} has no authorization endpoint, so no one can sign in there; use the client-credentials grant if it is a machine-to-machine server",
                server.issuer
            ))
        })?;
        if !server.supports_s256() {
            return Err(OAuthError::Refused(format!(
                "the authorization server {} does not advertise PKCE with S256 (code_challenge_methods_supported); signing in without it is not safe, so Switchboard refuses",
                server.issuer
            )));
        }
        let mut record = ctx.store.load(&ctx.server).await?;
        // A registration bound to a redirect port is reused on that port when it is free.
        let reuse = record
            .client_for(&server.issuer)
            .filter(|c| c.how == "dynamic")
            .and_then(|c| c.redirect_uris.first())
            .and_then(|uri| Url::parse(uri).ok())
            .and_then(|uri| uri.port());
        let callback = match reuse {
            Some(port) => match Callback::bind(port).await {
                Ok(callback) => callback,
                Err(_) => Callback::bind(0).await?,
            },
            None => Callback::bind(0).await?,
        };
        let identity = identity(
            ctx,
            settings,
            &discovery,
            &mut record,
            callback.redirect_uri(),
        )
        .await?;
        let scope = choose_scope(settings, challenge.as_ref(), &discovery, &record);

        let verifier = Sensitive::new(random_token(32));
        let state = Sensitive::new(random_token(24));
        let challenge_value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.expose().as_bytes()));
        let mut url = authorization_endpoint;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &identity.client_id)
                .append_pair("redirect_uri", callback.redirect_uri())
                .append_pair("code_challenge", &challenge_value)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state.expose())
                .append_pair("resource", &discovery.resource);
            if let Some(scope) = &scope {
                query.append_pair("scope", scope);
            }
        }
        ctx.http.check(&url, "authorization endpoint")?;
        // The rule for a URL handed to a browser, which the shells apply again.
        super::fetch::check_browser_url(&url).map_err(OAuthError::Refused)?;
        Ok(SignIn {
            host: host_of(&url),
            authorization_url: url,
            steps: discovery.steps.clone(),
            ctx: ctx.clone(),
            callback,
            state,
            verifier,
            discovery,
            identity,
            record,
        })
    }

    pub fn redirect_uri(&self) -> &str {
        self.callback.redirect_uri()
    }

    /// Waits for the browser's redirect (at most `timeout`), checks it, redeems the code
    /// and keeps the tokens in the keychain.
    pub async fn finish(self, timeout: Duration) -> Result<Tokens, OAuthError> {
        let redirect_uri = self.callback.redirect_uri().to_owned();
        let SignIn {
            ctx,
            callback,
            state,
            verifier,
            discovery,
            identity,
            mut record,
            ..
        } = self;
        let params = callback.wait(timeout).await?;
        let code = check_redirect(&params, state.expose(), &discovery.server)?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.expose().clone()),
            ("resource", discovery.resource.clone()),
        ];
        let tokens = token_request(
            &ctx.http,
            &discovery.server.token_endpoint,
            &discovery.server.issuer,
            &identity,
            &mut form,
            None,
        )
        .await
        .map_err(|e| e.refused_as("the sign-in"))?;
        // How this client authenticated, for the refreshes to come (a dynamic registration
        // is kept already, with its secret; a configured one's secret stays in its own item).
        record
            .clients
            .entry(discovery.server.issuer.clone())
            .or_insert_with(|| ClientRegistration {
                client_id: identity.client_id.clone(),
                client_secret: None,
                token_auth: identity.auth,
                how: "configured".into(),
                redirect_uris: Vec::new(),
            });
        record.granted(&discovery.server, &discovery.resource, tokens.clone());
        record.wanted_scope = None;
        ctx.store.save(&ctx.server, &record).await?;
        log::info!(
            "'{}': signed in at {}{}",
            ctx.server,
            discovery.server.issuer,
            tokens
                .account
                .as_deref()
                .map(|a| format!(" as {a}"))
                .unwrap_or_default()
        );
        Ok(tokens)
    }
}

/// An unauthenticated request to the server, for its challenge. A server that answers
/// without asking for a token gets none (discovery then uses the well-known paths).
pub async fn probe(ctx: &Context) -> Result<Option<Challenge>, OAuthError> {
    for body in super::PROBE_REQUESTS {
        let (status, challenges) = ctx.http.probe(&ctx.server_url, body).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Ok(Challenge::parse(challenges.iter().map(String::as_str)));
        }
    }
    Ok(None)
}

impl Record {
    /// Tokens `server` granted for `resource`, and where to renew and revoke them.
    fn granted(&mut self, server: &AuthServer, resource: &str, tokens: Tokens) {
        self.issuer = Some(server.issuer.clone());
        self.token_endpoint = Some(server.token_endpoint.to_string());
        self.revocation_endpoint = server.revocation_endpoint.as_ref().map(Url::to_string);
        self.resource = Some(resource.to_owned());
        self.tokens = Some(tokens);
    }
}

/// The scope to ask for: the config's, else the challenge's, else the resource metadata's
/// `scopes_supported`, else none; plus what was granted before and what a step-up asked
/// for, and `offline_access` when the authorization server offers it (so a refresh token
/// comes).
fn choose_scope(
    settings: &Settings,
    challenge: Option<&Challenge>,
    discovery: &Discovery,
    record: &Record,
) -> Option<String> {
    let base: Option<String> = settings
        .scope
        .clone()
        .or_else(|| challenge.and_then(|c| c.scope.clone()))
        .or_else(|| {
            (!discovery.resource_scopes.is_empty()).then(|| discovery.resource_scopes.join(" "))
        });
    // Scopes accumulate (SEP-2350): what was granted before and what a step-up asked for
    // are kept, so a new sign-in never loses a permission the person already gave.
    let granted = record.tokens.as_ref().and_then(|t| t.scope.as_deref());
    let before = merge_scopes(granted, record.wanted_scope.as_deref());
    let mut scopes = merge_scopes(base.as_deref(), before.as_deref())?;
    let offered = &discovery.server.scopes_supported;
    if offered.iter().any(|s| s == "offline_access")
        && !scopes.split_whitespace().any(|s| s == "offline_access")
    {
        scopes.push_str(" offline_access");
    }
    Some(scopes)
}

/// The client identity for this authorization server, in the spec's order: configured,
/// metadata document, a registration kept from before (same issuer only), a new dynamic
/// registration.
async fn identity(
    ctx: &Context,
    settings: &Settings,
    discovery: &Discovery,
    record: &mut Record,
    redirect_uri: &str,
) -> Result<Identity, OAuthError> {
    let server = &discovery.server;
    if let Some(client_id) = &settings.client_id {
        return Ok(Identity::configured(client_id, settings, Some(server)));
    }
    if let Some(document) = &settings.client_metadata_url
        && server.client_id_metadata_document_supported
    {
        return Ok(Identity::document(document));
    }
    if let Some(kept) = record.client_for(&server.issuer)
        && kept.how == "dynamic"
        && kept.redirect_uris.iter().any(|u| u == redirect_uri)
    {
        return Ok(Identity::of(kept));
    }
    let Some(endpoint) = &server.registration_endpoint else {
        let hint = if server.client_id_metadata_document_supported {
            "it accepts client ID metadata documents: set \"clientMetadataUrl\" to the https URL of Switchboard's document, or set \"clientId\""
        } else {
            "set \"clientId\" (and \"clientSecret\" if it gave you one) to a client registered there"
        };
        return Err(OAuthError::Failed(format!(
            "the authorization server {} offers no dynamic client registration; {hint}",
            server.issuer
        )));
    };
    let registration = register(ctx, server, endpoint, redirect_uri).await?;
    let identity = Identity::of(&registration);
    record.clients.insert(server.issuer.clone(), registration);
    Ok(identity)
}

/// How a client with a secret authenticates: Basic unless only `post` is offered.
fn secret_auth(server: &AuthServer) -> TokenAuth {
    let offered = &server.token_endpoint_auth_methods_supported;
    if offered.is_empty() || offered.iter().any(|m| m == "client_secret_basic") {
        TokenAuth::ClientSecretBasic
    } else if offered.iter().any(|m| m == "client_secret_post") {
        TokenAuth::ClientSecretPost
    } else {
        TokenAuth::ClientSecretBasic
    }
}

/// Dynamic client registration (RFC 7591) as a native app with a loopback redirect.
async fn register(
    ctx: &Context,
    server: &AuthServer,
    endpoint: &Url,
    redirect_uri: &str,
) -> Result<ClientRegistration, OAuthError> {
    // A public client when the server allows one; otherwise what it offers.
    let offered = &server.token_endpoint_auth_methods_supported;
    let method = if offered.is_empty() || offered.iter().any(|m| m == "none") {
        TokenAuth::None
    } else {
        secret_auth(server)
    };
    let body = json!({
        "client_name": "Switchboard",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method.name(),
        "application_type": "native",
    });
    let (status, answer) = ctx
        .http
        .post_json(endpoint, &body, "registration endpoint")
        .await?;
    if !status.is_success() {
        return Err(OAuthError::Failed(format!(
            "the authorization server refused to register Switchboard (HTTP {}{})",
            status.as_u16(),
            oauth_error_text(&answer)
        )));
    }
    let client_id = answer
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::Failed("the registration answer has no client_id".into()))?
        .to_owned();
    let client_secret = answer
        .get("client_secret")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let token_auth = answer
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .and_then(TokenAuth::from_name)
        .unwrap_or(if client_secret.is_some() {
            method.max_secret()
        } else {
            TokenAuth::None
        });
    if let Some(secret) = &client_secret {
        crate::redact::global().register_secret(&Sensitive::new(secret.clone()));
    }
    log::info!(
        "'{}': registered with {} (dynamic client registration)",
        ctx.server,
        server.issuer
    );
    Ok(ClientRegistration {
        client_id,
        client_secret,
        token_auth,
        how: "dynamic".to_owned(),
        redirect_uris: vec![redirect_uri.to_owned()],
    })
}

impl TokenAuth {
    /// With a secret, `none` makes no sense: Basic then.
    fn max_secret(self) -> TokenAuth {
        match self {
            TokenAuth::None => TokenAuth::ClientSecretBasic,
            other => other,
        }
    }
}

/// The authorization response checked: an error, `state` (compared in constant time) and
/// RFC 9207 `iss`, before the code is redeemed.
pub fn check_redirect(
    params: &HashMap<String, String>,
    state: &str,
    server: &AuthServer,
) -> Result<String, OAuthError> {
    let iss = params.get("iss");
    // RFC 9207 §2.4: a present `iss` must be the issuer, advertised or not; a missing one
    // is refused when the server said it would send it.
    match iss {
        Some(iss) if iss != &server.issuer => {
            return Err(OAuthError::Refused(format!(
                "the sign-in answer came from issuer '{iss}', not '{}'; refused (a mix-up attack would look like this)",
                server.issuer
            )));
        }
        None if server.iss_parameter_supported => {
            return Err(OAuthError::Refused(format!(
                "the authorization server {} promised to name itself in its answer (RFC 9207) and did not; refused",
                server.issuer
            )));
        }
        _ => {}
    }
    let returned = params.get("state").map(String::as_str).unwrap_or("");
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        returned.as_bytes(),
        state.as_bytes(),
    )) {
        return Err(OAuthError::Refused(
            "the sign-in answer does not belong to this sign-in (state mismatch); refused".into(),
        ));
    }
    if let Some(error) = params.get("error") {
        let description = params
            .get("error_description")
            .map(|d| format!(": {}", crate::redact::global().redact(d)))
            .unwrap_or_default();
        return Err(if error == "access_denied" {
            OAuthError::Failed(format!("sign-in was declined{description}"))
        } else {
            OAuthError::Failed(format!("sign-in failed ({error}){description}"))
        });
    }
    params
        .get("code")
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or_else(|| OAuthError::Failed("the sign-in answer has no code".into()))
}

/// Why a token request failed.
pub enum TokenError {
    /// The authorization server said no (`invalid_grant`, `invalid_client`, …): a refresh
    /// token revoked or expired, a client gone. The text is safe to show.
    Refused(String),
    Other(OAuthError),
}

impl TokenError {
    /// As an error of the grant `what` ("the sign-in"): a refusal says so in words.
    fn refused_as(self, what: &str) -> OAuthError {
        match self {
            TokenError::Refused(why) => {
                OAuthError::Failed(format!("the authorization server refused {what}: {why}"))
            }
            TokenError::Other(e) => e,
        }
    }
}

/// A token request: the grant's `form`, plus client authentication; the answer as tokens
/// (`previous_refresh` kept when the server rotates none).
pub async fn token_request(
    http: &OAuthHttp,
    endpoint: &Url,
    issuer: &str,
    identity: &Identity,
    form: &mut Vec<(&str, String)>,
    previous_refresh: Option<&str>,
) -> Result<Tokens, TokenError> {
    let mut basic = None;
    match identity.auth {
        TokenAuth::PrivateKeyJwt => {
            let key = identity.key.as_ref().ok_or_else(|| {
                TokenError::Other(OAuthError::Failed(
                    "private_key_jwt needs the client's key (auth.clientKey)".into(),
                ))
            })?;
            let assertion = super::jwt::client_assertion(&identity.client_id, issuer, key)
                .map_err(TokenError::Other)?;
            form.push(("client_id", identity.client_id.clone()));
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ));
            form.push(("client_assertion", assertion.expose().clone()));
        }
        TokenAuth::None => form.push(("client_id", identity.client_id.clone())),
        TokenAuth::ClientSecretPost => {
            form.push(("client_id", identity.client_id.clone()));
            if let Some(secret) = &identity.secret {
                form.push(("client_secret", secret.expose().clone()));
            }
        }
        TokenAuth::ClientSecretBasic => match &identity.secret {
            Some(secret) => basic = Some((identity.client_id.as_str(), secret)),
            None => form.push(("client_id", identity.client_id.clone())),
        },
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, answer) = http
        .post_form(endpoint, &pairs, basic)
        .await
        .map_err(TokenError::Other)?;
    if !status.is_success() {
        let text = format!("HTTP {}{}", status.as_u16(), oauth_error_text(&answer));
        return Err(if status.is_client_error() {
            TokenError::Refused(text)
        } else {
            TokenError::Other(OAuthError::Failed(format!(
                "the token endpoint answered {text}"
            )))
        });
    }
    parse_tokens(&answer, previous_refresh).map_err(TokenError::Other)
}

fn parse_tokens(answer: &Value, previous_refresh: Option<&str>) -> Result<Tokens, OAuthError> {
    let access_token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::Failed("the token answer has no access_token".into()))?
        .to_owned();
    crate::redact::global().register_secret(&Sensitive::new(access_token.clone()));
    let token_type = answer
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("Bearer");
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(OAuthError::Failed(format!(
            "the token is of type '{token_type}'; only Bearer tokens are supported"
        )));
    }
    let refresh_token = answer
        .get("refresh_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| previous_refresh.map(str::to_owned));
    if let Some(refresh) = &refresh_token {
        crate::redact::global().register_secret(&Sensitive::new(refresh.clone()));
    }
    let obtained_at = now();
    let expires_at = answer
        .get("expires_in")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|seconds| obtained_at.saturating_add(seconds));
    let account = answer
        .get("id_token")
        .and_then(Value::as_str)
        .and_then(account_of)
        .or_else(|| account_of(&access_token));
    Ok(Tokens {
        access_token,
        refresh_token,
        expires_at,
        scope: answer
            .get("scope")
            .and_then(Value::as_str)
            .map(str::to_owned),
        account,
        obtained_at,
    })
}

/// Who a JWT is about (`email`, `preferred_username`, `name`, `sub`), read without
/// checking its signature: shown to the person, never used to decide anything.
fn account_of(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    ["email", "preferred_username", "name", "sub"]
        .iter()
        .find_map(|k| claims.get(k).and_then(Value::as_str))
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_owned)
}

/// Refreshes the record's tokens. `Refused` means the person must sign in again.
pub async fn refresh(
    ctx: &Context,
    settings: &Settings,
    record: &Record,
) -> Result<Tokens, TokenError> {
    let (Some(tokens), Some(endpoint), Some(issuer)) =
        (&record.tokens, &record.token_endpoint, &record.issuer)
    else {
        return Err(TokenError::Refused("not signed in".into()));
    };
    let Some(refresh_token) = &tokens.refresh_token else {
        return Err(TokenError::Refused(
            "the access token expired and the authorization server gave no refresh token".into(),
        ));
    };
    let endpoint = Url::parse(endpoint)
        .map_err(|_| TokenError::Refused("the kept token endpoint is not a URL".into()))?;
    let identity = match (&settings.client_id, record.client_for(issuer)) {
        (Some(client_id), kept) => {
            let mut identity = Identity::configured(client_id, settings, None);
            // The method chosen at sign-in, when it was this configured client.
            if let Some(kept) = kept.filter(|k| k.how == "configured")
                && settings.client_key.is_none()
                && identity.secret.is_some()
            {
                identity.auth = kept.token_auth;
            }
            identity
        }
        (None, Some(kept)) => Identity::of(kept),
        (None, None) => match &settings.client_metadata_url {
            Some(document) => Identity::document(document),
            None => {
                return Err(TokenError::Refused(
                    "the client registration for this sign-in is gone".into(),
                ));
            }
        },
    };
    let mut form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.clone()),
    ];
    if let Some(resource) = &record.resource {
        form.push(("resource", resource.clone()));
    }
    let fresh = token_request(
        &ctx.http,
        &endpoint,
        issuer,
        &identity,
        &mut form,
        Some(refresh_token),
    )
    .await?;
    Ok(Tokens {
        scope: fresh.scope.clone().or_else(|| tokens.scope.clone()),
        account: fresh.account.clone().or_else(|| tokens.account.clone()),
        ..fresh
    })
}

/// The client-credentials grant (machine to machine): discovery, then a token for the
/// configured client, kept in the keychain like any other.
pub async fn client_credentials(
    ctx: &Context,
    settings: &Settings,
    challenge: Option<Challenge>,
) -> Result<Record, OAuthError> {
    let Some(client_id) = &settings.client_id else {
        return Err(OAuthError::Failed(
            "the client-credentials grant needs \"clientId\" (and \"clientSecret\")".into(),
        ));
    };
    let challenge = match challenge {
        Some(c) => Some(c),
        None => probe(ctx).await?,
    };
    let discovery = discovery::discover(&ctx.http, &ctx.server_url, challenge.as_ref()).await?;
    let server = &discovery.server;
    let identity = Identity::configured(client_id, settings, Some(server));
    let mut form = vec![
        ("grant_type", "client_credentials".to_owned()),
        ("resource", discovery.resource.clone()),
    ];
    let scope = settings
        .scope
        .clone()
        .or_else(|| challenge.as_ref().and_then(|c| c.scope.clone()))
        .or_else(|| {
            (!discovery.resource_scopes.is_empty()).then(|| discovery.resource_scopes.join(" "))
        });
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let tokens = token_request(
        &ctx.http,
        &server.token_endpoint,
        &server.issuer,
        &identity,
        &mut form,
        None,
    )
    .await
    .map_err(|e| e.refused_as("the client credentials"))?;
    let mut record = ctx.store.load(&ctx.server).await.unwrap_or_default();
    record.granted(server, &discovery.resource, tokens);
    record.clients.insert(
        server.issuer.clone(),
        ClientRegistration {
            client_id: client_id.clone(),
            client_secret: None,
            token_auth: identity.auth,
            how: "configured".into(),
            redirect_uris: Vec::new(),
        },
    );
    ctx.store.save(&ctx.server, &record).await?;
    Ok(record)
}

/// Revokes the kept refresh token (RFC 7009) where the authorization server offers
/// revocation; best effort, at most a few seconds: signing out never waits on it.
pub async fn revoke(ctx: &Context, settings: &Settings) {
    let Ok(record) = ctx.store.load(&ctx.server).await else {
        return;
    };
    let (Some(endpoint), Some(tokens), Some(issuer)) =
        (&record.revocation_endpoint, &record.tokens, &record.issuer)
    else {
        return;
    };
    let Ok(endpoint) = Url::parse(endpoint) else {
        return;
    };
    let identity = match (&settings.client_id, record.client_for(issuer)) {
        (Some(id), _) => Identity::configured(id, settings, None),
        (None, Some(kept)) => Identity::of(kept),
        (None, None) => return,
    };
    let (token, hint) = match &tokens.refresh_token {
        Some(refresh) => (refresh.clone(), "refresh_token"),
        None => (tokens.access_token.clone(), "access_token"),
    };
    let mut form = vec![("token", token), ("token_type_hint", hint.to_owned())];
    let request = token_request(&ctx.http, &endpoint, issuer, &identity, &mut form, None);
    // The answer to a revocation has no tokens; any answer (or none) is fine.
    let _ = tokio::time::timeout(Duration::from_secs(5), request).await;
}

/// `: <error> (<description>)` from an OAuth error answer, redacted, or nothing.
fn oauth_error_text(answer: &Value) -> String {
    let error = answer.get("error").and_then(Value::as_str);
    let description = answer.get("error_description").and_then(Value::as_str);
    let text = match (error, description) {
        (Some(e), Some(d)) => format!(": {e} ({d})"),
        (Some(e), None) => format!(": {e}"),
        _ => String::new(),
    };
    let text: String = text.chars().take(300).collect();
    crate::redact::global().redact(&text).into_owned()
}

/// `bytes` random bytes, base64url: PKCE verifiers (43+ characters for 32 bytes) and
/// states.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The union of two space-separated scope lists, in first-seen order.
pub fn merge_scopes(a: Option<&str>, b: Option<&str>) -> Option<String> {
    let mut seen = BTreeSet::new();
    let merged: Vec<&str> = a
        .into_iter()
        .chain(b)
        .flat_map(str::split_whitespace)
        .filter(|s| seen.insert(*s))
        .collect();
    (!merged.is_empty()).then(|| merged.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(iss_supported: bool) -> AuthServer {
        AuthServer {
            iss_parameter_supported: iss_supported,
            ..AuthServer::new(
                "https://as.example.com",
                Url::parse("https://as.example.com/token").expect("url"),
            )
        }
    }

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_redirect_is_checked_for_state_and_issuer_before_the_code_is_used() {
        let ok = params(&[
            ("code", "c1"),
            ("state", "s1"),
            ("iss", "https://as.example.com"),
        ]);
        assert_eq!(
            check_redirect(&ok, "s1", &server(true)).ok().as_deref(),
            Some("c1")
        );
        assert_eq!(
            check_redirect(&ok, "s1", &server(false)).ok().as_deref(),
            Some("c1")
        );
        // Wrong state.
        assert!(check_redirect(&ok, "s2", &server(true)).is_err());
        // Advertised but missing.
        let no_iss = params(&[("code", "c1"), ("state", "s1")]);
        assert!(check_redirect(&no_iss, "s1", &server(true)).is_err());
        assert!(check_redirect(&no_iss, "s1", &server(false)).is_ok());
        // Another issuer, advertised or not.
        let wrong = params(&[
            ("code", "c1"),
            ("state", "s1"),
            ("iss", "https://evil.example.com"),
        ]);
        assert!(check_redirect(&wrong, "s1", &server(true)).is_err());
        assert!(check_redirect(&wrong, "s1", &server(false)).is_err());
        // An error answer.
        let denied = params(&[("error", "access_denied"), ("state", "s1")]);
        let Err(e) = check_redirect(&denied, "s1", &server(false)) else {
            panic!("accepted a denial")
        };
        assert!(e.to_string().contains("declined"), "{e}");
    }

    #[test]
    fn pkce_verifiers_are_long_enough_and_unique() {
        let a = random_token(32);
        assert!(a.len() >= 43 && a.len() <= 128, "{a}");
        assert_ne!(a, random_token(32));
    }

    #[test]
    fn tokens_keep_the_old_refresh_token_when_none_is_rotated() {
        let t = parse_tokens(
            &json!({"access_token": "a", "token_type": "bearer", "expires_in": 60}),
            Some("r0"),
        )
        .unwrap_or_else(|_| panic!("tokens"));
        assert_eq!(t.refresh_token.as_deref(), Some("r0"));
        assert!(t.expires_at.is_some_and(|e| e >= now() + 59));
        assert!(parse_tokens(&json!({"access_token": "a", "token_type": "mac"}), None).is_err());
        assert!(parse_tokens(&json!({"token_type": "bearer"}), None).is_err());
    }

    #[test]
    fn scopes_merge_without_duplicates() {
        assert_eq!(
            merge_scopes(Some("a b"), Some("b c")).as_deref(),
            Some("a b c")
        );
        assert_eq!(merge_scopes(None, None), None);
    }
}
