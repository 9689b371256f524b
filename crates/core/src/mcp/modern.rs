//! The stateless protocol (2026-07-28) on the wire: which requests belong to it, and the
//! checks a server endpoint makes before it handles one, in the spec's order (the first
//! failure wins):
//!
//! 1. the `_meta` envelope (`protocolVersion`, `clientCapabilities`) → 400, -32602;
//! 2. the headers against the body (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
//!    decoded) → 400, -32020;
//! 3. a version this endpoint serves → 400, -32022 with `data.supported` and `requested`;
//! 4. methods the stateless protocol removed (`initialize`, `ping`, …) → 404, -32601.
//!
//! A stdio child never sees HTTP headers, so the front door makes these checks for it.
//! `Mcp-Param-*` headers are left to the server that reads the arguments (an intermediary
//! forwards those it does not know, as the spec asks).

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::jsonrpc::{Envelope, Kind};
use super::protocol::{self, PROTOCOL_VERSION_HEADER, code};

pub const MCP_METHOD_HEADER: &str = "mcp-method";
pub const MCP_NAME_HEADER: &str = "mcp-name";
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
pub const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Methods of the session era that the stateless protocol removed: on its path they are
/// unknown (404, -32601), whatever the server behind would do with them.
const REMOVED_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Whether a POST takes the stateless path: its `MCP-Protocol-Version` header names a
/// version that is not one of the session era's, or, with no session, its body's `_meta`
/// carries a protocol version (so a missing or wrong header gets the stateless error).
pub fn is_modern_request(headers: &HeaderMap, envelope: &Envelope<'_>) -> bool {
    if let Some(version) = header(headers, PROTOCOL_VERSION_HEADER)
        && !protocol::SESSION_PROTOCOL_VERSIONS.contains(&version.as_str())
    {
        return true;
    }
    if headers.contains_key(protocol::SESSION_HEADER) {
        return false;
    }
    envelope.kind == Kind::Request
        && envelope.method.as_deref() != Some("initialize")
        && meta_string(envelope, META_PROTOCOL_VERSION).is_some()
}

/// A GET or DELETE that belongs to the stateless protocol (which has neither): its version
/// header names a version after the session era.
pub fn is_modern_stream_request(headers: &HeaderMap) -> bool {
    header(headers, PROTOCOL_VERSION_HEADER)
        .is_some_and(|v| !protocol::SESSION_PROTOCOL_VERSIONS.contains(&v.as_str()))
}

/// Why a stateless request is refused, as the spec wants it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: i32,
    pub message: String,
    pub data: Option<Value>,
}

impl Refusal {
    fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            data: None,
        }
    }
}

/// What a request that passed the checks declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub version: String,
    /// `clientCapabilities`, as sent.
    pub capabilities: Value,
}

/// The checks of a stateless request, in the spec's order. `supported` are the versions
/// this endpoint serves.
pub fn check(
    headers: &HeaderMap,
    envelope: &Envelope<'_>,
    supported: &[&str],
) -> Result<Checked, Refusal> {
    // Parsed once: `_meta` and the field `Mcp-Name` mirrors are both read from it.
    let params = envelope
        .params
        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        .unwrap_or_default();
    let Some(Value::Object(meta)) = params.get("_meta") else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMS,
            format!(
                "Invalid params: params._meta must be an object carrying {META_PROTOCOL_VERSION} and {META_CLIENT_CAPABILITIES}"
            ),
        ));
    };
    let version = meta.get(META_PROTOCOL_VERSION).and_then(Value::as_str);
    let capabilities = meta.get(META_CLIENT_CAPABILITIES);
    let missing: Vec<&str> = [
        (version.is_none(), META_PROTOCOL_VERSION),
        (
            !capabilities.is_some_and(Value::is_object),
            META_CLIENT_CAPABILITIES,
        ),
    ]
    .iter()
    .filter(|(missing, _)| *missing)
    .map(|(_, key)| *key)
    .collect();
    if !missing.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMS,
            format!(
                "Invalid params: params._meta lacks {}",
                missing.join(" and ")
            ),
        ));
    }
    let version = version.unwrap_or_default().to_owned();
    let method = envelope.method.as_deref().unwrap_or_default();

    // Headers against the body.
    let mismatch = |what: String| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            code::HEADER_MISMATCH,
            format!("Header mismatch: {what}"),
        )
    };
    match header(headers, PROTOCOL_VERSION_HEADER) {
        None => {
            return Err(mismatch(
                "the MCP-Protocol-Version header is missing".into(),
            ));
        }
        Some(sent) if sent != version => {
            return Err(mismatch(format!(
                "MCP-Protocol-Version is '{sent}' but params._meta says '{version}'"
            )));
        }
        Some(_) => {}
    }
    if envelope.kind == Kind::Request {
        match header(headers, MCP_METHOD_HEADER) {
            None => return Err(mismatch("the Mcp-Method header is missing".into())),
            Some(sent) if sent != method => {
                return Err(mismatch(format!(
                    "Mcp-Method is '{sent}' but the body's method is '{method}'"
                )));
            }
            Some(_) => {}
        }
        if let Some(field) = name_field(method) {
            let expected = params.get(field).and_then(Value::as_str).map(str::to_owned);
            let sent = header(headers, MCP_NAME_HEADER)
                .map(|raw| decode_header_value(&raw))
                .transpose()
                .map_err(|why| mismatch(format!("Mcp-Name {why}")))?;
            match (sent, expected) {
                (None, Some(_)) => {
                    return Err(mismatch(format!(
                        "the Mcp-Name header is missing for {method}"
                    )));
                }
                (Some(sent), Some(expected)) if sent != expected => {
                    return Err(mismatch(format!("Mcp-Name does not match params.{field}")));
                }
                _ => {}
            }
        }
    }

    if !supported.contains(&version.as_str()) {
        return Err(Refusal {
            data: Some(serde_json::json!({"supported": supported, "requested": version})),
            ..Refusal::new(
                StatusCode::BAD_REQUEST,
                code::UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
            )
        });
    }
    if envelope.kind == Kind::Request && REMOVED_METHODS.contains(&method) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            code::METHOD_NOT_FOUND,
            format!("Method not found: {method} is not part of protocol {version}"),
        ));
    }
    Ok(Checked {
        version,
        capabilities: capabilities.cloned().unwrap_or_default(),
    })
}

/// A tool argument that travels as an `Mcp-Param-{name}` header too (its input schema's
/// property annotated `"x-mcp-header": "{name}"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    /// The header's `{name}`, as annotated.
    pub name: String,
    /// The property's path in the arguments (through `properties` only).
    pub path: Vec<String>,
}

/// The `x-mcp-header` annotations of a tool's input schema: on string, integer or boolean
/// properties reached through `properties` alone (the spec's rule; others are ignored).
pub fn param_headers(input_schema: &Value) -> Vec<ParamHeader> {
    fn walk(schema: &Value, path: &mut Vec<String>, out: &mut Vec<ParamHeader>) {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (key, property) in properties {
            path.push(key.clone());
            let scalar = matches!(
                property.get("type").and_then(Value::as_str),
                Some("string" | "integer" | "boolean")
            );
            match property.get("x-mcp-header").and_then(Value::as_str) {
                Some(name) if scalar && !name.is_empty() => out.push(ParamHeader {
                    name: name.to_owned(),
                    path: path.clone(),
                }),
                _ => walk(property, path, out),
            }
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(input_schema, &mut Vec::new(), &mut out);
    out
}

/// The `Mcp-Param-*` headers of a `tools/call` against its arguments: each annotated
/// argument that is present must come with its header, equal to it (integers compared as
/// numbers), and a header must not come without its argument. Headers no annotation names
/// are left alone.
pub fn check_param_headers(
    headers: &HeaderMap,
    arguments: &Value,
    declared: &[ParamHeader],
) -> Result<(), Refusal> {
    let mismatch = |what: String| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            code::HEADER_MISMATCH,
            format!("Header mismatch: {what}"),
        )
    };
    for param in declared {
        let header_name = format!("mcp-param-{}", param.name.to_ascii_lowercase());
        let sent = header(headers, &header_name)
            .map(|raw| decode_header_value(&raw))
            .transpose()
            .map_err(|why| mismatch(format!("Mcp-Param-{} {why}", param.name)))?;
        let value = param
            .path
            .iter()
            .try_fold(arguments, |v, key| v.get(key))
            .filter(|v| !v.is_null());
        match (sent, value) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(mismatch(format!(
                    "Mcp-Param-{} is sent but its argument is not",
                    param.name
                )));
            }
            (None, Some(_)) => {
                return Err(mismatch(format!(
                    "the Mcp-Param-{} header is missing",
                    param.name
                )));
            }
            (Some(sent), Some(value)) => {
                let same = match value {
                    Value::String(s) => *s == sent,
                    Value::Bool(b) => sent == if *b { "true" } else { "false" },
                    Value::Number(n) => sent
                        .parse::<f64>()
                        .ok()
                        .zip(n.as_f64())
                        .is_some_and(|(a, b)| a == b),
                    _ => false,
                };
                if !same {
                    return Err(mismatch(format!(
                        "Mcp-Param-{} does not match its argument",
                        param.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The body field `Mcp-Name` mirrors, for the methods that have one.
fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// A header's value, trimmed of the optional whitespace around it (RFC 9110). Names are
/// case-insensitive (the map's lookup), values are not.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches([' ', '\t']).to_owned())
}

/// A header value in the spec's encoding: `=?base64?<canonical base64 of UTF-8>?=`, or the
/// value as it is. Bad base64 inside the markers is an error, not a literal.
pub fn decode_header_value(raw: &str) -> Result<String, &'static str> {
    let Some(inner) = raw
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Ok(raw.to_owned());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(inner)
        .map_err(|_| "is not valid base64 between its =?base64? markers")?;
    // Canonical only: what decodes must encode back to exactly what was sent.
    if base64::engine::general_purpose::STANDARD.encode(&bytes) != inner {
        return Err("is not canonical base64");
    }
    String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8")
}

/// The HTTP status of an error answer on the stateless path, by its JSON-RPC code.
pub fn status_of_error(code: i64) -> StatusCode {
    match code {
        -32601 => StatusCode::NOT_FOUND,
        -32700 | -32600 | -32602 | -32020 | -32021 | -32022 => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// A string in the request's `_meta`.
fn meta_string(envelope: &Envelope<'_>, key: &str) -> Option<String> {
    envelope
        .param(key, true)
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                value.parse().expect("a value"),
            );
        }
        map
    }

    const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

    fn body(method: &str, extra: &str) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{{{META}{extra}}}}}"#)
    }

    fn checked(h: &[(&str, &str)], b: &str) -> Result<Checked, Refusal> {
        let envelope = Envelope::parse(b.as_bytes()).expect("a frame");
        check(&headers(h), &envelope, &["2026-07-28"])
    }

    #[test]
    fn the_ladder_refuses_in_the_spec_order() {
        let ok = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ];
        assert!(checked(&ok, &body("tools/list", "")).is_ok());
        // No _meta: -32602 before anything else.
        let e = checked(
            &ok,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
        )
        .expect_err("refused");
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, -32602));
        // Header and body disagree on the version: -32020, not -32022.
        let v999 = body("tools/list", "").replace("2026-07-28", "v999");
        let e = checked(&ok, &v999).expect_err("refused");
        assert_eq!(e.code, -32020);
        // Both say v999: -32022 with the supported list.
        let e = checked(
            &[
                ("mcp-protocol-version", "v999"),
                ("mcp-method", "tools/list"),
            ],
            &v999,
        )
        .expect_err("refused");
        assert_eq!(e.code, -32022);
        assert_eq!(
            e.data,
            Some(serde_json::json!({"supported": ["2026-07-28"], "requested": "v999"}))
        );
        // Mcp-Method missing or different (values are case-sensitive).
        for h in [
            vec![("mcp-protocol-version", "2026-07-28")],
            vec![
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "TOOLS/LIST"),
            ],
        ] {
            assert_eq!(
                checked(&h, &body("tools/list", ""))
                    .expect_err("refused")
                    .code,
                -32020
            );
        }
        // Removed methods: 404, -32601.
        let e = checked(
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "ping"),
            ],
            &body("ping", ""),
        )
        .expect_err("refused");
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, -32601));
    }

    #[test]
    fn mcp_name_is_decoded_trimmed_and_compared() {
        let call = body("tools/call", r#","name":"Zürich""#);
        let h = |name: &'static str| {
            vec![
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", name),
            ]
        };
        assert!(checked(&h("=?base64?WsO8cmljaA==?="), &call).is_ok());
        assert_eq!(
            checked(&h("=?base64?WsO8cmljaA?="), &call)
                .expect_err("bad padding")
                .code,
            -32020
        );
        assert_eq!(
            checked(&h("other"), &call).expect_err("mismatch").code,
            -32020
        );
        let plain = body("tools/call", r#","name":"echo""#);
        assert!(checked(&h("  echo  "), &plain).is_ok());
        let missing = vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
        ];
        assert_eq!(checked(&missing, &plain).expect_err("missing").code, -32020);
    }

    #[test]
    fn param_headers_are_found_and_checked_against_the_arguments() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "count": {"type": "integer", "x-mcp-header": "Count"},
            "nested": {"type": "object", "properties": {"flag": {"type": "boolean", "x-mcp-header": "Flag"}}},
            "list": {"type": "array", "x-mcp-header": "Ignored"}
        }});
        let declared = param_headers(&schema);
        assert_eq!(declared.len(), 3, "{declared:?}");
        let args = serde_json::json!({"region": "Zürich", "count": 42, "nested": {"flag": true}});
        let ok = headers(&[
            ("mcp-param-region", "=?base64?WsO8cmljaA==?="),
            ("mcp-param-count", "42.0"),
            ("mcp-param-flag", "true"),
        ]);
        assert!(check_param_headers(&ok, &args, &declared).is_ok());
        let wrong = headers(&[
            ("mcp-param-region", "Basel"),
            ("mcp-param-count", "42"),
            ("mcp-param-flag", "true"),
        ]);
        assert_eq!(
            check_param_headers(&wrong, &args, &declared)
                .expect_err("mismatch")
                .code,
            -32020
        );
        let missing = headers(&[("mcp-param-count", "42"), ("mcp-param-flag", "true")]);
        assert!(check_param_headers(&missing, &args, &declared).is_err());
        let bad = headers(&[
            ("mcp-param-region", "=?base64?WsO8cmljaA?="),
            ("mcp-param-count", "42"),
            ("mcp-param-flag", "true"),
        ]);
        assert!(check_param_headers(&bad, &args, &declared).is_err());
        // A header without its argument; an unknown header is left alone.
        let extra = headers(&[("mcp-param-region", "x"), ("mcp-param-other", "y")]);
        assert!(check_param_headers(&extra, &serde_json::json!({}), &declared).is_err());
        let unknown = headers(&[("mcp-param-other", "y")]);
        assert!(check_param_headers(&unknown, &serde_json::json!({}), &declared).is_ok());
    }

    #[test]
    fn modern_requests_are_told_apart_from_the_session_era() {
        let modern = body("tools/list", "");
        let envelope = Envelope::parse(modern.as_bytes()).expect("a frame");
        assert!(is_modern_request(&HeaderMap::new(), &envelope));
        assert!(!is_modern_request(
            &headers(&[("mcp-session-id", "s")]),
            &envelope
        ));
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
        let envelope = Envelope::parse(init.as_bytes()).expect("a frame");
        assert!(!is_modern_request(&HeaderMap::new(), &envelope));
        assert!(!is_modern_request(
            &headers(&[("mcp-protocol-version", "2025-11-25")]),
            &envelope
        ));
        assert!(is_modern_request(
            &headers(&[("mcp-protocol-version", "2026-07-28")]),
            &envelope
        ));
        assert_eq!(decode_header_value("plain"), Ok("plain".to_owned()));
        assert!(decode_header_value("=?base64?SGVs!!!bG8=?=").is_err());
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8="),
            Ok("=?base64?SGVsbG8=".to_owned())
        );
    }
}
