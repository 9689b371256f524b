//! Speaking 2026-07-28 to a remote server on behalf of a session-era client: the pieces of
//! the translation that are pure functions of the messages (the client in
//! [`super::client`] holds the state and does the HTTP).
//!
//! - The client's `initialize` is answered from the server's `server/discover`: the
//!   version it asked for when it is one of ours, the server's capabilities, info and
//!   instructions.
//! - Every later request gets the stateless envelope: `_meta` carries the protocol
//!   version, the client's declared capabilities and its info, and the HTTP headers
//!   mirror the method and name ([`request_headers`]).
//! - An `input_required` result becomes the server→client requests the session era has
//!   for it (elicitation, sampling, roots); their answers go back in a retry of the
//!   original request ([`retry_with`]).
//! - List changes and resource updates come from one `subscriptions/listen` stream,
//!   opened for what the server offers ([`listen_filter`]).

use serde_json::{Map, Value, json};

use super::modern::{
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO,
    META_SUBSCRIPTION_ID, ParamHeader,
};
use super::protocol::{LATEST_SESSION_VERSION, MODERN_PROTOCOL_VERSION, SESSION_PROTOCOL_VERSIONS};

/// How many `input_required` rounds one request may take before the client is told the
/// server keeps asking (a loop guard, not a limit a real exchange reaches).
pub const MAX_INPUT_ROUNDS: usize = 8;

/// What the session-era client said in its `initialize`, carried in every request's `_meta`.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// The version the client asked for.
    pub protocol_version: Option<String>,
    pub capabilities: Value,
    pub client_info: Value,
}

impl ClientIdentity {
    /// From an `initialize` request's params.
    pub fn from_initialize(params: &Value) -> ClientIdentity {
        ClientIdentity {
            protocol_version: params["protocolVersion"].as_str().map(str::to_owned),
            capabilities: match &params["capabilities"] {
                Value::Object(c) => Value::Object(c.clone()),
                _ => json!({}),
            },
            client_info: match &params["clientInfo"] {
                Value::Object(i) => Value::Object(i.clone()),
                _ => json!({"name": "switchboard", "version": env!("CARGO_PKG_VERSION")}),
            },
        }
    }

    /// The stateless envelope's `_meta` keys.
    fn meta(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert(META_PROTOCOL_VERSION.into(), MODERN_PROTOCOL_VERSION.into());
        meta.insert(
            META_CLIENT_CAPABILITIES.into(),
            // Roots, sampling and elicitation reach the client as input_required rounds;
            // the rest of what it declared (extensions, tasks) is its own business.
            self.capabilities.clone(),
        );
        meta.insert(META_CLIENT_INFO.into(), self.client_info.clone());
        meta
    }
}

/// A `server/discover` request, with the client's identity in its envelope.
pub fn discover_request(id: &str, identity: &ClientIdentity) -> Vec<u8> {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "server/discover",
        "params": {"_meta": identity.meta()},
    })
    .to_string()
    .into_bytes()
}

/// Whether a `server/discover` result offers the stateless protocol.
pub fn offers_modern(discover: &Value) -> bool {
    discover["supportedVersions"]
        .as_array()
        .is_some_and(|v| v.iter().any(|v| v == MODERN_PROTOCOL_VERSION))
}

/// The `initialize` result a session-era client gets from a stateless server's discover.
pub fn initialize_result(discover: &Value, asked: Option<&str>) -> Value {
    let version = asked
        .filter(|v| SESSION_PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(LATEST_SESSION_VERSION);
    let mut capabilities = match &discover["capabilities"] {
        Value::Object(c) => c.clone(),
        _ => Map::new(),
    };
    // Subscriptions to a resource are served through subscriptions/listen; the session
    // era's resources/subscribe is translated, so the capability holds as the server says.
    if let Some(resources) = capabilities
        .get_mut("resources")
        .and_then(Value::as_object_mut)
    {
        resources.entry("subscribe").or_insert(Value::Bool(false));
    }
    let server_info = discover["_meta"][META_SERVER_INFO]
        .as_object()
        .or_else(|| discover["serverInfo"].as_object())
        .cloned()
        .map(Value::Object)
        .unwrap_or_else(|| json!({"name": "unknown", "version": "0"}));
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": capabilities,
        "serverInfo": server_info,
    });
    if let Some(instructions) = discover.get("instructions").filter(|i| i.is_string()) {
        result["instructions"] = instructions.clone();
    }
    result
}

/// A request of the client's with the stateless envelope added to its `_meta` (keeping any
/// `_meta` it had, a progress token among them). `None` when it is not a JSON-RPC object.
pub fn with_envelope(request: &[u8], identity: &ClientIdentity) -> Option<Value> {
    let mut request: Value = serde_json::from_slice(request).ok()?;
    let object = request.as_object_mut()?;
    let params = object.entry("params").or_insert_with(|| json!({}));
    if !params.is_object() {
        *params = json!({});
    }
    let params = params.as_object_mut()?;
    let meta = params.entry("_meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut()?.extend(identity.meta());
    Some(request)
}

/// The headers a stateless request carries besides its body: `Mcp-Method`, `Mcp-Name` for
/// the methods that name something, and each `Mcp-Param-*` its tool's schema annotates.
/// Values that are not plain visible ASCII travel base64-encoded, as the spec says.
pub fn request_headers(request: &Value, params_of_tool: &[ParamHeader]) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    let Some(method) = request["method"].as_str() else {
        return headers;
    };
    headers.push(("mcp-method".to_owned(), encode_header_value(method)));
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    };
    if let Some(name) = name_field.and_then(|f| request["params"][f].as_str()) {
        headers.push(("mcp-name".to_owned(), encode_header_value(name)));
    }
    if method == "tools/call" {
        let arguments = &request["params"]["arguments"];
        for param in params_of_tool {
            let value = param
                .path
                .iter()
                .try_fold(arguments, |v, key| v.get(key))
                .filter(|v| !v.is_null());
            let text = match value {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            headers.push((
                format!("mcp-param-{}", param.name.to_ascii_lowercase()),
                encode_header_value(&text),
            ));
        }
    }
    headers
}

/// A header value as the spec carries it: as it is when it is visible ASCII without
/// leading or trailing space, else `=?base64?…?=` of its UTF-8.
pub fn encode_header_value(value: &str) -> String {
    use base64::Engine as _;
    let plain = !value.is_empty()
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !value.starts_with("=?base64?");
    if value.is_empty() || plain {
        value.to_owned()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    }
}

/// What an `input_required` result asks for: its input requests (key → `{method,
/// params}`) and its opaque state. `None` for any other result.
pub fn input_required(result: &Value) -> Option<(Map<String, Value>, Option<Value>)> {
    if result["resultType"] != "input_required" {
        return None;
    }
    let requests = result["inputRequests"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    Some((requests, result.get("requestState").cloned()))
}

/// The original request again, carrying the answers to its input requests and the state.
pub fn retry_with(original: &Value, responses: Map<String, Value>, state: Option<Value>) -> Value {
    let mut retry = original.clone();
    if let Some(params) = retry["params"].as_object_mut() {
        params.insert("inputResponses".into(), Value::Object(responses));
        match state {
            Some(state) => {
                params.insert("requestState".into(), state);
            }
            None => {
                params.remove("requestState");
            }
        }
    }
    retry
}

/// The notifications a session-era client would get on its GET stream, as a
/// `subscriptions/listen` filter: the list changes the server's capabilities offer, and
/// the resources the client subscribed to.
pub fn listen_filter(discover: &Value, resources: &[String]) -> Value {
    let capabilities = &discover["capabilities"];
    let mut filter = Map::new();
    for (capability, key) in [
        ("tools", "toolsListChanged"),
        ("prompts", "promptsListChanged"),
        ("resources", "resourcesListChanged"),
    ] {
        if capabilities[capability]["listChanged"] == true {
            filter.insert(key.into(), Value::Bool(true));
        }
    }
    if !resources.is_empty() {
        filter.insert("resourceSubscriptions".into(), json!(resources));
    }
    Value::Object(filter)
}

/// A notification from a listen stream as the session era has it: without the
/// `subscriptionId` the stateless protocol tags it with (a session-era client has no
/// listen request to match it to). `None` for the stream's own acknowledgement.
pub fn from_listen_stream(notification: &Value) -> Option<Value> {
    if notification["method"] == "notifications/subscriptions/acknowledged" {
        return None;
    }
    let mut notification = notification.clone();
    if let Some(params) = notification["params"].as_object_mut()
        && let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut)
    {
        meta.remove(META_SUBSCRIPTION_ID);
        if meta.is_empty() {
            params.remove("_meta");
        }
    }
    Some(notification)
}

/// A result without the stateless protocol's own fields (`resultType`, the cache hints and
/// the server-info stamp), which mean nothing to a session-era client.
pub fn for_session_client(mut result: Value) -> Value {
    if let Some(object) = result.as_object_mut() {
        object.remove("resultType");
        object.remove("ttlMs");
        object.remove("cacheScope");
        if let Some(meta) = object.get_mut("_meta").and_then(Value::as_object_mut) {
            meta.remove(META_SERVER_INFO);
            if meta.is_empty() {
                object.remove("_meta");
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ClientIdentity {
        ClientIdentity::from_initialize(&json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"elicitation": {}},
            "clientInfo": {"name": "ide", "version": "9"},
        }))
    }

    #[test]
    fn initialize_is_answered_from_discover_in_the_clients_version() {
        let discover = json!({
            "resultType": "complete",
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {"listChanged": true}},
            "instructions": "be kind",
            "_meta": {META_SERVER_INFO: {"name": "remote", "version": "2"}},
        });
        assert!(offers_modern(&discover));
        let result = initialize_result(&discover, Some("2025-06-18"));
        assert_eq!(result["protocolVersion"], "2025-06-18");
        assert_eq!(result["serverInfo"]["name"], "remote");
        assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(result["instructions"], "be kind");
        // A version we do not speak gets our latest session version.
        let result = initialize_result(&discover, Some("2099-01-01"));
        assert_eq!(result["protocolVersion"], LATEST_SESSION_VERSION);
        assert!(!offers_modern(
            &json!({"supportedVersions": ["2025-11-25"]})
        ));
    }

    #[test]
    fn a_request_gets_the_envelope_and_keeps_its_own_meta() {
        let request = br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"d\u00e9j\u00e0","arguments":{"region":"eu"},"_meta":{"progressToken":7}}}"#;
        let sent = with_envelope(request, &identity()).unwrap();
        let meta = &sent["params"]["_meta"];
        assert_eq!(meta["progressToken"], 7);
        assert_eq!(meta[META_PROTOCOL_VERSION], MODERN_PROTOCOL_VERSION);
        assert_eq!(meta[META_CLIENT_CAPABILITIES], json!({"elicitation": {}}));
        assert_eq!(meta[META_CLIENT_INFO]["name"], "ide");
        let declared = [ParamHeader {
            name: "Region".into(),
            path: vec!["region".into()],
        }];
        let headers = request_headers(&sent, &declared);
        assert_eq!(
            headers,
            vec![
                ("mcp-method".to_owned(), "tools/call".to_owned()),
                ("mcp-name".to_owned(), "=?base64?ZMOpasOg?=".to_owned()),
                ("mcp-param-region".to_owned(), "eu".to_owned()),
            ]
        );
        assert_eq!(
            super::super::modern::decode_header_value("=?base64?ZMOpasOg?=").unwrap(),
            "déjà"
        );
        // No params at all: they are made.
        let sent = with_envelope(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            &identity(),
        );
        assert_eq!(
            sent.unwrap()["params"]["_meta"][META_PROTOCOL_VERSION],
            MODERN_PROTOCOL_VERSION
        );
    }

    #[test]
    fn input_required_is_read_and_the_retry_carries_answers_and_state() {
        let original = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","requestState":"old"}});
        let result = json!({"resultType":"input_required","inputRequests":{"a":{"method":"roots/list","params":{}}},"requestState":"s1"});
        let (requests, state) = input_required(&result).unwrap();
        assert_eq!(requests["a"]["method"], "roots/list");
        let mut answers = Map::new();
        answers.insert("a".into(), json!({"roots": []}));
        let retry = retry_with(&original, answers, state);
        assert_eq!(retry["params"]["inputResponses"]["a"], json!({"roots": []}));
        assert_eq!(retry["params"]["requestState"], "s1");
        assert_eq!(retry["id"], 1);
        assert!(input_required(&json!({"resultType":"complete"})).is_none());
        assert!(input_required(&json!({"content":[]})).is_none());
    }

    #[test]
    fn the_listen_filter_follows_the_capabilities_and_subscriptions() {
        let discover = json!({"capabilities": {"tools": {"listChanged": true}, "prompts": {}, "resources": {"listChanged": true, "subscribe": true}}});
        assert_eq!(
            listen_filter(&discover, &["file:///a".into()]),
            json!({"toolsListChanged": true, "resourcesListChanged": true, "resourceSubscriptions": ["file:///a"]})
        );
        let tagged = json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{META_SUBSCRIPTION_ID: 3}}});
        assert_eq!(
            from_listen_stream(&tagged).unwrap(),
            json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{}})
        );
        assert!(
            from_listen_stream(&json!({"method":"notifications/subscriptions/acknowledged"}))
                .is_none()
        );
    }

    #[test]
    fn results_lose_the_stateless_fields_only() {
        let result = json!({"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[],"_meta":{META_SERVER_INFO:{}}});
        assert_eq!(for_session_client(result), json!({"tools": []}));
        let kept = json!({"content":[],"_meta":{"x":1}});
        assert_eq!(for_session_client(kept.clone()), kept);
    }
}
