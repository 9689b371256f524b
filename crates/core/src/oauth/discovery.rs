//! Finding the authorization server of an MCP server, in the order the spec gives:
//!
//! 1. protected resource metadata (RFC 9728): the URL the 401's `resource_metadata` names,
//!    else `/.well-known/oauth-protected-resource/<path>`, else the root one;
//! 2. the first authorization server it names, its metadata (RFC 8414 and OpenID Connect
//!    discovery), at the well-known URLs built from the issuer, path-inserted first;
//! 3. with no resource metadata at all (servers of the 2025-03-26 era), the server's own
//!    origin is the authorization server, and with no metadata there either, the default
//!    endpoints `/authorize`, `/token`, `/register`.
//!
//! Every URL fetched passes [`OAuthHttp::check`]; the metadata's `issuer` must be the one
//! the URL was built from.

use serde_json::Value;
use url::Url;

use super::OAuthError;
use super::challenge::Challenge;
use super::fetch::{OAuthHttp, host_of};

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// The `resource` parameter (RFC 8707): the resource metadata's `resource`, else the
    /// server's canonical URI.
    pub resource: String,
    /// The scopes the resource metadata lists (`scopes_supported`).
    pub resource_scopes: Vec<String>,
    /// The authorization server.
    pub server: AuthServer,
    /// No resource metadata: the 2025-03-26 rules were used.
    pub legacy: bool,
    /// What was looked at, in plain words, for "Test connection".
    pub steps: Vec<String>,
}

/// An authorization server's metadata, the fields this client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthServer {
    pub issuer: String,
    pub authorization_endpoint: Option<Url>,
    pub token_endpoint: Url,
    pub registration_endpoint: Option<Url>,
    pub revocation_endpoint: Option<Url>,
    pub scopes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub client_id_metadata_document_supported: bool,
    /// RFC 9207: the authorization response carries `iss`.
    pub iss_parameter_supported: bool,
    /// The endpoints are the 2025-03-26 defaults: no metadata was found at all.
    pub defaults: bool,
}

impl AuthServer {
    /// A server known only by its issuer and token endpoint; everything else unset.
    pub fn new(issuer: &str, token_endpoint: Url) -> AuthServer {
        AuthServer {
            issuer: issuer.to_owned(),
            authorization_endpoint: None,
            token_endpoint,
            registration_endpoint: None,
            revocation_endpoint: None,
            scopes_supported: Vec::new(),
            grant_types_supported: Vec::new(),
            code_challenge_methods_supported: Vec::new(),
            token_endpoint_auth_methods_supported: Vec::new(),
            client_id_metadata_document_supported: false,
            iss_parameter_supported: false,
            defaults: false,
        }
    }

    /// Whether PKCE with S256 can be used. The metadata must say so; with no metadata at
    /// all (the 2025-03-26 defaults) it is assumed, as that revision made PKCE mandatory.
    pub fn supports_s256(&self) -> bool {
        self.defaults
            || self
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
    }
}

/// The canonical URI of an MCP server (RFC 8707 as the MCP spec uses it): scheme and host
/// lowercase (the URL parser does that), no fragment, no query, no trailing slash.
pub fn canonical_resource(server_url: &Url) -> String {
    let mut url = server_url.clone();
    url.set_fragment(None);
    url.set_query(None);
    let text = url.to_string();
    text.strip_suffix('/').map(str::to_owned).unwrap_or(text)
}

/// Discovery for the server at `server_url`, starting from the challenge of its 401 (if
/// it sent one).
pub async fn discover(
    http: &OAuthHttp,
    server_url: &Url,
    challenge: Option<&Challenge>,
) -> Result<Discovery, OAuthError> {
    let mut steps = Vec::new();
    let resource_metadata = protected_resource(http, server_url, challenge, &mut steps).await?;
    let Some((metadata_url, prm)) = resource_metadata else {
        // 2025-03-26: the server's origin is the authorization server.
        let issuer = origin_of(server_url);
        steps.push(format!(
            "no protected resource metadata; using the server's own origin ({}) as its authorization server, as servers of the 2025-03-26 revision expect",
            host_of(server_url)
        ));
        let server = match authorization_server(http, &issuer, &mut steps, true).await? {
            Some(server) => server,
            None => {
                steps.push(
                    "no authorization server metadata either; using the default endpoints /authorize, /token and /register".to_owned(),
                );
                default_endpoints(&issuer)?
            }
        };
        return Ok(Discovery {
            resource: canonical_resource(server_url),
            resource_scopes: Vec::new(),
            server,
            legacy: true,
            steps,
        });
    };

    let resource = match prm.get("resource").and_then(Value::as_str) {
        Some(resource) => {
            if !resource_covers(resource, server_url) {
                return Err(OAuthError::Refused(format!(
                    "the server's protected resource metadata ({}) is for another resource ({resource}), not {}",
                    host_of(&metadata_url),
                    canonical_resource(server_url)
                )));
            }
            resource.to_owned()
        }
        None => canonical_resource(server_url),
    };
    let issuers = strings(&prm, "authorization_servers");
    let Some(issuer) = issuers.first() else {
        return Err(OAuthError::Failed(format!(
            "the protected resource metadata at {} names no authorization server",
            host_of(&metadata_url)
        )));
    };
    steps.push(format!("authorization server: {issuer}"));
    let server = authorization_server(http, issuer, &mut steps, false)
        .await?
        .ok_or_else(|| {
            OAuthError::Failed(format!(
                "no authorization server metadata found for {issuer} (tried RFC 8414 and OpenID Connect discovery)"
            ))
        })?;
    Ok(Discovery {
        resource,
        resource_scopes: strings(&prm, "scopes_supported"),
        server,
        legacy: false,
        steps,
    })
}

/// The protected resource metadata and where it was found, or `None` when the server has
/// none (every well-known URL answered 4xx).
async fn protected_resource(
    http: &OAuthHttp,
    server_url: &Url,
    challenge: Option<&Challenge>,
    steps: &mut Vec<String>,
) -> Result<Option<(Url, Value)>, OAuthError> {
    let mut candidates = Vec::new();
    if let Some(named) = challenge.and_then(|c| c.resource_metadata.as_deref()) {
        let url = Url::parse(named).map_err(|_| {
            OAuthError::Failed("the server's 401 names resource metadata at an invalid URL".into())
        })?;
        candidates.push(url);
    }
    let path = server_url.path().trim_end_matches('/');
    if !path.is_empty() {
        candidates.push(well_known(server_url, "oauth-protected-resource", path));
    }
    candidates.push(well_known(server_url, "oauth-protected-resource", ""));
    for url in candidates {
        match http.get_json(&url, "protected resource metadata").await? {
            Some(document) => {
                steps.push(format!(
                    "protected resource metadata: found at {}{}",
                    host_of(&url),
                    url.path()
                ));
                return Ok(Some((url, document)));
            }
            None => steps.push(format!(
                "protected resource metadata: none at {}{}",
                host_of(&url),
                url.path()
            )),
        }
    }
    Ok(None)
}

/// The metadata of the authorization server `issuer`, from the well-known URLs in the
/// spec's order. `Ok(None)` when none of them has it.
async fn authorization_server(
    http: &OAuthHttp,
    issuer: &str,
    steps: &mut Vec<String>,
    oauth_only: bool,
) -> Result<Option<AuthServer>, OAuthError> {
    let issuer_url = Url::parse(issuer).map_err(|_| {
        OAuthError::Failed(format!("the authorization server '{issuer}' is not a URL"))
    })?;
    http.check(&issuer_url, "authorization server")?;
    for url in metadata_urls(&issuer_url, oauth_only) {
        let Some(document) = http.get_json(&url, "authorization server metadata").await? else {
            steps.push(format!(
                "authorization server metadata: none at {}{}",
                host_of(&url),
                url.path()
            ));
            continue;
        };
        let declared = document.get("issuer").and_then(Value::as_str).unwrap_or("");
        if !same_issuer(declared, issuer) {
            return Err(OAuthError::Refused(format!(
                "the authorization server metadata at {} says its issuer is '{declared}', not '{issuer}'; refused (it could be an impostor)",
                host_of(&url)
            )));
        }
        steps.push(format!(
            "authorization server metadata: found at {}{}",
            host_of(&url),
            url.path()
        ));
        return parse_server(http, &document, issuer).map(Some);
    }
    Ok(None)
}

/// The well-known metadata URLs of an issuer, in the order of the 2025-11-25 spec: with a
/// path, RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended; without one,
/// RFC 8414 then OpenID.
pub fn metadata_urls(issuer: &Url, oauth_only: bool) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut urls = vec![well_known(issuer, "oauth-authorization-server", path)];
    if oauth_only {
        return urls;
    }
    urls.push(well_known(issuer, "openid-configuration", path));
    if !path.is_empty() {
        let mut appended = issuer.clone();
        appended.set_query(None);
        appended.set_fragment(None);
        appended.set_path(&format!("{path}/.well-known/openid-configuration"));
        urls.push(appended);
    }
    urls
}

/// `<origin>/.well-known/<name><path>`.
fn well_known(base: &Url, name: &str, path: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.set_path(&format!("/.well-known/{name}{path}"));
    url
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Issuers compare as the exact strings (RFC 8414 §3.3): no normalisation, not even of a
/// trailing slash. That is also why issuers and resources are kept as the strings the
/// server published, never re-serialised through a URL parser (which adds a slash to a
/// bare origin).
fn same_issuer(a: &str, b: &str) -> bool {
    a == b && !a.is_empty()
}

/// Whether the resource metadata's `resource` is this server: the same origin, and the
/// server's path equal to or below the resource's.
fn resource_covers(resource: &str, server_url: &Url) -> bool {
    let Ok(resource_url) = Url::parse(resource) else {
        return false;
    };
    if resource_url.origin() != server_url.origin() {
        return false;
    }
    let base = resource_url.path().trim_end_matches('/');
    let path = server_url.path().trim_end_matches('/');
    path == base || path.starts_with(&format!("{base}/"))
}

fn parse_server(http: &OAuthHttp, doc: &Value, issuer: &str) -> Result<AuthServer, OAuthError> {
    let url_field = |name: &str| -> Result<Option<Url>, OAuthError> {
        match doc.get(name).and_then(Value::as_str) {
            None => Ok(None),
            Some(text) => {
                let url = Url::parse(text).map_err(|_| {
                    OAuthError::Failed(format!(
                        "the authorization server's {name} is not a valid URL"
                    ))
                })?;
                http.check(&url, &name.replace('_', " "))?;
                Ok(Some(url))
            }
        }
    };
    let token_endpoint = url_field("token_endpoint")?.ok_or_else(|| {
        OAuthError::Failed(format!("the metadata of {issuer} has no token_endpoint"))
    })?;
    Ok(AuthServer {
        issuer: issuer.to_owned(),
        authorization_endpoint: url_field("authorization_endpoint")?,
        token_endpoint,
        registration_endpoint: url_field("registration_endpoint")?,
        revocation_endpoint: url_field("revocation_endpoint")?,
        scopes_supported: strings(doc, "scopes_supported"),
        grant_types_supported: strings(doc, "grant_types_supported"),
        code_challenge_methods_supported: strings(doc, "code_challenge_methods_supported"),
        token_endpoint_auth_methods_supported: strings(
            doc,
            "token_endpoint_auth_methods_supported",
        ),
        client_id_metadata_document_supported: doc
            .get("client_id_metadata_document_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        iss_parameter_supported: doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        defaults: false,
    })
}

fn default_endpoints(issuer: &str) -> Result<AuthServer, OAuthError> {
    let base =
        Url::parse(issuer).map_err(|_| OAuthError::Failed(format!("'{issuer}' is not a URL")))?;
    let at = |path: &str| {
        let mut url = base.clone();
        url.set_path(path);
        url
    };
    Ok(AuthServer {
        authorization_endpoint: Some(at("/authorize")),
        registration_endpoint: Some(at("/register")),
        defaults: true,
        ..AuthServer::new(issuer, at("/token"))
    })
}

fn strings(doc: &Value, name: &str) -> Vec<String> {
    doc.get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("a URL")
    }

    #[test]
    fn metadata_urls_follow_the_spec_order() {
        let with_path: Vec<String> = metadata_urls(&url("https://auth.example.com/tenant1"), false)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            with_path,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        let root: Vec<String> = metadata_urls(&url("https://auth.example.com"), false)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            root,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn the_canonical_resource_has_no_trailing_slash_query_or_fragment() {
        assert_eq!(
            canonical_resource(&url("HTTPS://MCP.Example.com/mcp/?x=1#f")),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canonical_resource(&url("https://mcp.example.com")),
            "https://mcp.example.com"
        );
    }

    #[test]
    fn a_resource_covers_its_own_path_and_below_only() {
        let server = url("https://mcp.example.com/api/mcp");
        assert!(resource_covers("https://mcp.example.com/api/mcp", &server));
        assert!(resource_covers("https://mcp.example.com/api", &server));
        assert!(resource_covers("https://mcp.example.com/", &server));
        assert!(!resource_covers("https://mcp.example.com/ap", &server));
        assert!(!resource_covers(
            "https://other.example.com/api/mcp",
            &server
        ));
        assert!(!resource_covers(
            "https://mcp.example.com/api/mcp/deeper",
            &server
        ));
    }
}
