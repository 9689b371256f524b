//! `mcp::jsonrpc`: the envelope parser, id rewriting, single-line framing, error responses.

use std::fmt;

use bytes::Bytes;
use indexmap::IndexMap;
use proptest::prelude::*;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_core::mcp::jsonrpc::{
    self, CANCELLED_REQUEST_ID, Envelope, FrameError, Kind, PROGRESS_TOKEN, PROGRESS_TOKEN_IN_META,
};

use crate::json::{json_string, json_value, mutate, mutation, ws};

// --- the envelope parser ---

/// A message-shaped object: members picked from the envelope's fields (also spelled with
/// escapes), unknown ones and duplicates, with any values; sometimes corrupted.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "jsonrpc",
        "id",
        "method",
        "params",
        "result",
        "error",
        "x-future",
        "_meta",
        "i\\u0064",
        "m\\u0065thod",
        "resul\\u0074",
    ]);
    let value = prop_oneof![2 => json_string(), 3 => json_value()];
    (
        prop::collection::vec((key, value, ws(), ws()), 0..6),
        ws(),
        proptest::option::weighted(0.25, mutation()),
    )
        .prop_map(|(members, outer, corruption)| {
            let body: Vec<String> = members
                .into_iter()
                .map(|(k, v, a, b)| format!("{a}\"{k}\"{b}:{a}{v}{b}"))
                .collect();
            let text = format!("{outer}{{{}}}{outer}", body.join(","));
            match corruption {
                Some(how) => mutate(text.into_bytes(), how),
                None => text.into_bytes(),
            }
        })
}

fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => frame(),
        1 => any::<Vec<u8>>(),
        1 => json_value().prop_map(String::into_bytes),
    ]
}

/// Every top-level key of an object, duplicates included (a `Value` keeps only the last).
struct TopKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(TopKeys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// What `Envelope::parse` must say, worked out from serde_json's own view of the bytes.
#[derive(Debug, PartialEq)]
enum Expected {
    SomeError,
    /// A `\u` escape of half a surrogate pair: valid JSON syntax (RFC 8259 §8.2 leaves the
    /// meaning to the reader), refused by serde_json's `Value`, and not looked at in the
    /// values the envelope parser skips. Either answer is right.
    Either,
    Batch,
    Invalid,
    Envelope {
        kind: Kind,
        id: Option<Value>,
        method: Option<String>,
        params: Option<Value>,
    },
}

fn expected(bytes: &[u8]) -> Expected {
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => value,
        Err(e) if e.to_string().contains("surrogate") || e.to_string().contains("hex escape") => {
            return Expected::Either;
        }
        Err(_) => return Expected::SomeError,
    };
    let object = match value {
        Value::Array(_) => return Expected::Batch,
        Value::Object(object) => object,
        _ => return Expected::Invalid,
    };
    let keys = serde_json::from_slice::<TopKeys>(bytes)
        .expect("an object has keys")
        .0;
    let envelope_fields = ["id", "method", "params", "result", "error"];
    if envelope_fields
        .iter()
        .any(|f| keys.iter().filter(|k| k == f).count() > 1)
    {
        return Expected::Invalid; // a duplicate field
    }
    // `null` reads as absent for `id`, `method` and `params`; `result: null` is a result.
    let present = |name: &str| object.get(name).filter(|v| !v.is_null()).cloned();
    let method = match present("method") {
        None => None,
        Some(Value::String(m)) => Some(m),
        Some(_) => return Expected::Invalid,
    };
    let id = present("id");
    let answered = object.contains_key("result") || object.contains_key("error");
    let kind = match (&method, &id, answered) {
        (Some(_), Some(_), false) => Kind::Request,
        (Some(_), None, false) => Kind::Notification,
        (None, _, true) => Kind::Response,
        _ => return Expected::Invalid,
    };
    Expected::Envelope {
        kind,
        id,
        method,
        params: present("params"),
    }
}

fn actual(bytes: &[u8]) -> Expected {
    match Envelope::parse(bytes) {
        Err(FrameError::Batch) => Expected::Batch,
        Err(FrameError::Invalid(_)) => Expected::Invalid,
        Err(FrameError::Parse(_)) => Expected::SomeError,
        Ok(e) => {
            // Borrowed, not re-spelled: the id and params are the input's own bytes.
            for raw in [e.id, e.params].into_iter().flatten() {
                let text = raw.get().as_bytes();
                assert!(
                    memchr::memmem::find(bytes, text).is_some(),
                    "raw value {:?} is not a slice of the input",
                    raw.get()
                );
            }
            assert_eq!(e.id_key(), e.id.map(RawValue::get));
            // A value serde_json's `Value` refuses (a lone surrogate escape, valid JSON
            // syntax): only a frame `expected` calls `Either` can hold one.
            let parse = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).ok();
            let (id, params) = (e.id.map(parse), e.params.map(parse));
            if matches!(id, Some(None)) || matches!(params, Some(None)) {
                return Expected::SomeError;
            }
            Expected::Envelope {
                kind: e.kind,
                id: id.flatten(),
                method: e.method.map(|m| m.into_owned()),
                params: params.flatten(),
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::cases(512))]

    /// Never panics; on anything serde_json reads as JSON, the envelope (kind, id, method,
    /// params) is exactly what serde_json's value says, and anything else is an error.
    #[test]
    fn parse_agrees_with_serde_json(bytes in any_frame()) {
        let want = expected(&bytes);
        let got = actual(&bytes);
        match want {
            Expected::SomeError => {
                prop_assert!(!matches!(got, Expected::Envelope { .. }), "{got:?}");
            }
            Expected::Either => {}
            want => prop_assert_eq!(got, want),
        }
    }
}

// --- rewrite ---

/// An object tree whose leaves are raw JSON texts, rendered with random whitespace.
#[derive(Debug, Clone)]
enum Node {
    Raw(String),
    Object(Vec<(String, Node)>, &'static str),
}

impl Node {
    fn render(&self) -> String {
        match self {
            Node::Raw(text) => text.clone(),
            Node::Object(members, ws) => {
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{ws}{}{ws}:{ws}{}{ws}",
                            serde_json::to_string(k).expect("key"),
                            v.render()
                        )
                    })
                    .collect();
                format!("{{{}}}", body.join(","))
            }
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(members, _) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Node::Raw(_) => None,
        }
    }
}

/// Unknown members, then `special` inserted at `at`; keys kept unique.
fn object(
    extra: Vec<(String, String)>,
    special: Vec<(&str, Option<Node>)>,
    at: usize,
    ws: &'static str,
) -> Node {
    let mut members: Vec<(String, Node)> = Vec::new();
    for (k, v) in extra {
        if !members.iter().any(|(m, _)| *m == k) {
            members.push((k, Node::Raw(v)));
        }
    }
    for (i, (k, v)) in special.into_iter().enumerate() {
        if let Some(v) = v {
            members.retain(|(m, _)| m != k);
            let at = (at + i * 7) % (members.len() + 1);
            members.insert(at, (k.to_owned(), v));
        }
    }
    Node::Object(members, ws)
}

fn extras() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z_-]{1,6}|x-future|é", json_value()), 0..4)
}

/// A message tree in which the rewrite paths exist or not, params sometimes not an object.
fn message() -> impl Strategy<Value = Node> {
    let meta = (
        extras(),
        proptest::option::of(json_value()),
        any::<usize>(),
        ws(),
    )
        .prop_map(|(extra, token, at, ws)| {
            object(extra, vec![("progressToken", token.map(Node::Raw))], at, ws)
        });
    let params = prop_oneof![
        1 => json_value().prop_map(Node::Raw),
        4 => (
            extras(),
            proptest::option::of(json_value()),
            proptest::option::of(json_value()),
            proptest::option::of(meta),
            any::<usize>(),
            ws(),
        )
            .prop_map(|(extra, token, request_id, meta, at, ws)| {
                object(
                    extra,
                    vec![
                        ("progressToken", token.map(Node::Raw)),
                        ("requestId", request_id.map(Node::Raw)),
                        ("_meta", meta),
                    ],
                    at,
                    ws,
                )
            }),
    ];
    (
        extras(),
        proptest::option::of(json_value()),
        proptest::option::of(params),
        any::<usize>(),
        ws(),
    )
        .prop_map(|(extra, id, params, at, ws)| {
            object(
                extra,
                vec![("id", id.map(Node::Raw)), ("params", params)],
                at,
                ws,
            )
        })
}

fn path() -> impl Strategy<Value = &'static [&'static str]> {
    prop::sample::select(vec![
        &["id"][..],
        PROGRESS_TOKEN_IN_META,
        PROGRESS_TOKEN,
        CANCELLED_REQUEST_ID,
    ])
}

type Members<'a> = IndexMap<String, &'a RawValue>;

proptest! {
    #![proptest_config(crate::cases(512))]

    /// The rewrite happens exactly when the path exists; then the target holds the
    /// replacement's exact text, and every other member on the way keeps its key, its place
    /// and its value's exact bytes.
    #[test]
    fn rewrite_changes_exactly_the_target(
        tree in message(),
        path in path(),
        replacement in json_value(),
    ) {
        let original = tree.render();
        let replacement = RawValue::from_string(replacement).expect("valid JSON");
        let out = jsonrpc::rewrite(original.as_bytes(), path, &replacement);

        // Where the path leads in the generated tree.
        let mut node = Some(&tree);
        for key in path {
            node = node.and_then(|n| n.get(key));
        }
        prop_assert_eq!(out.is_some(), node.is_some(), "{}", original);
        let Some(out) = out else { return Ok(()) };

        let out = std::str::from_utf8(&out).expect("utf-8");
        let mut before: Members<'_> = serde_json::from_str(&original).expect("object");
        let mut after: Members<'_> = serde_json::from_str(out).expect("object");
        for (depth, key) in path.iter().enumerate() {
            prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
            for (k, v) in &before {
                if k != key {
                    prop_assert_eq!(v.get(), after[k].get(), "member {} changed", k);
                }
            }
            if depth + 1 == path.len() {
                prop_assert_eq!(after[*key].get(), replacement.get());
            } else {
                before = serde_json::from_str(before[*key].get()).expect("object on the path");
                after = serde_json::from_str(after[*key].get()).expect("object on the path");
            }
        }
        // Still one message, and the same one to the envelope parser.
        let (a, b) = (Envelope::parse(original.as_bytes()), Envelope::parse(out.as_bytes()));
        prop_assert_eq!(a.map(|e| (e.kind, e.method)), b.map(|e| (e.kind, e.method)));
    }
}

// --- to_single_line ---

proptest! {
    #![proptest_config(crate::cases(512))]

    /// Valid JSON spelled over many lines comes out as one line that parses to the same
    /// value; only CR and LF bytes change (to spaces), so nothing else can move.
    #[test]
    fn single_line_keeps_the_value(text in json_value(), lead in ws(), trail in ws()) {
        let text = format!("{lead}{text}{trail}");
        let flat = jsonrpc::to_single_line(Bytes::from(text.clone()));
        prop_assert!(!flat.iter().any(|&b| b == b'\n' || b == b'\r'));
        prop_assert_eq!(flat.len(), text.len());
        for (a, b) in text.bytes().zip(flat.iter()) {
            if a == b'\n' || a == b'\r' {
                prop_assert_eq!(*b, b' ');
            } else {
                prop_assert_eq!(a, *b);
            }
        }
        let before: Value = serde_json::from_str(&text).expect("generated JSON");
        let after: Value = serde_json::from_slice(&flat).expect("still JSON");
        prop_assert_eq!(before, after);
    }

    /// On any bytes: no raw line break out, same length, and no copy when there was none.
    #[test]
    fn single_line_on_any_bytes(bytes in any::<Vec<u8>>()) {
        let input = Bytes::from(bytes.clone());
        let flat = jsonrpc::to_single_line(input.clone());
        prop_assert!(!flat.iter().any(|&b| b == b'\n' || b == b'\r'));
        prop_assert_eq!(flat.len(), bytes.len());
        if !bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
            prop_assert_eq!(flat.as_ptr(), input.as_ptr(), "copied for nothing");
        }
    }
}

// --- error_response ---

proptest! {
    #![proptest_config(crate::cases(512))]

    /// Any id, code and message make one valid JSON-RPC error response that reads back as
    /// given, and a single line whenever the id is.
    #[test]
    fn error_response_is_valid_and_faithful(
        id in proptest::option::of(json_value()),
        code in any::<i32>(),
        message in any::<String>(),
    ) {
        let id = id.map(|text| RawValue::from_string(text).expect("valid JSON"));
        let out = jsonrpc::error_response(id.as_deref(), code, &message);
        let value: Value = serde_json::from_slice(&out).expect("valid JSON");
        let want_id: Value = id
            .as_deref()
            .map_or(Value::Null, |raw| serde_json::from_str(raw.get()).expect("raw"));
        prop_assert_eq!(
            value,
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": want_id,
                "error": {"code": code, "message": message},
            })
        );
        let envelope = Envelope::parse(&out).expect("a message");
        prop_assert_eq!(envelope.kind, Kind::Response);
        let id_text = id.as_deref().map(RawValue::get).filter(|t| *t != "null");
        prop_assert_eq!(envelope.id_key(), id_text);
        if !id.as_deref().is_some_and(|raw| raw.get().contains(['\n', '\r'])) {
            prop_assert!(!out.contains(&b'\n') && !out.contains(&b'\r'));
        }
    }
}
