//! The JSON-RPC envelope: the few fields the relay reads, parsed without touching the rest.
//!
//! The relay forwards the original bytes of every message. Only ids, progress tokens and
//! cancelled request ids are ever rewritten (by the shared-child id map), and a rewrite
//! re-serialises only the objects on the path to that one field; every other value keeps its
//! exact bytes, unknown fields and methods included.

use std::borrow::Cow;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::value::RawValue;

pub use super::protocol::code;

/// What a message is, by the JSON-RPC 2.0 rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    Response,
}

/// A borrowed view of one message.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub kind: Kind,
    pub id: Option<&'a RawValue>,
    pub method: Option<Cow<'a, str>>,
    pub params: Option<&'a RawValue>,
}

/// Why bytes are not one JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON at all.
    Parse(String),
    /// A JSON array: a 2025-03-26 batch.
    Batch,
    /// JSON, but not a JSON-RPC request, notification or response.
    Invalid(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Parse(e) => write!(f, "not valid JSON: {e}"),
            FrameError::Batch => {
                f.write_str("JSON-RPC batches are not supported by this protocol version")
            }
            FrameError::Invalid(why) => write!(f, "not a JSON-RPC message: {why}"),
        }
    }
}

/// Marks that a field was present, even when its value is `null`.
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(default)]
    result: Present,
    #[serde(default)]
    error: Present,
}

impl<'a> Envelope<'a> {
    /// Parses the envelope of one message. Anything but a single JSON-RPC object is refused.
    pub fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, FrameError> {
        // JSON is UTF-8. serde_json skips the strings of ignored values (`result`, `error`,
        // unknown fields) without checking them, so check the whole frame here: otherwise
        // a frame was accepted or refused depending on where a bad byte sat, and one
        // accepted here could not be rewritten later (the shared child dropped such a
        // response without a word).
        let text = std::str::from_utf8(bytes)
            .map_err(|e| FrameError::Parse(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            Some(b'{') => {}
            Some(b'[') => {
                // Tell a batch from garbage that happens to start with '['.
                return match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    Ok(_) => Err(FrameError::Batch),
                    Err(e) => Err(FrameError::Parse(e.to_string())),
                };
            }
            _ => {
                return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    Ok(_) => FrameError::Invalid("not an object"),
                    Err(e) => FrameError::Parse(e.to_string()),
                });
            }
        }
        let raw: RawEnvelope<'a> = serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                FrameError::Invalid("a field has the wrong type")
            } else {
                FrameError::Parse(e.to_string())
            }
        })?;
        let kind = match (&raw.method, raw.id, raw.result.0 || raw.error.0) {
            (Some(_), Some(_), false) => Kind::Request,
            (Some(_), None, false) => Kind::Notification,
            (None, _, true) => Kind::Response,
            (Some(_), _, true) => {
                return Err(FrameError::Invalid("both a method and a result or error"));
            }
            (None, _, false) => {
                return Err(FrameError::Invalid(
                    "neither a method nor a result or error",
                ));
            }
        };
        Ok(Envelope {
            kind,
            id: raw.id,
            method: raw.method,
            params: raw.params,
        })
    }

    /// The id as a map key: its exact JSON text (`1` and `"1"` stay distinct).
    pub fn id_key(&self) -> Option<&'a str> {
        self.id.map(RawValue::get)
    }

    /// A field of `params` (or of `params._meta` when `in_meta`), as raw JSON.
    /// Cheap when absent: the params text is searched before anything is parsed.
    pub fn param(&self, name: &str, in_meta: bool) -> Option<Box<RawValue>> {
        let params = self.params?.get();
        memchr::memmem::find(params.as_bytes(), name.as_bytes())?;
        let params: IndexMap<Cow<'_, str>, &RawValue> = serde_json::from_str(params).ok()?;
        let value = if in_meta {
            let meta: IndexMap<Cow<'_, str>, &RawValue> =
                serde_json::from_str(params.get("_meta")?.get()).ok()?;
            meta.get(name).copied()?
        } else {
            params.get(name).copied()?
        };
        Some(value.to_owned())
    }
}

/// The progress token of a request (`params._meta.progressToken`).
pub const PROGRESS_TOKEN_IN_META: &[&str] = &["params", "_meta", "progressToken"];
/// The token of a `notifications/progress`.
pub const PROGRESS_TOKEN: &[&str] = &["params", "progressToken"];
/// The id a `notifications/cancelled` refers to.
pub const CANCELLED_REQUEST_ID: &[&str] = &["params", "requestId"];

/// Replaces the value at `path` (object keys from the top) with `replacement`, keeping every
/// other byte of meaning. Returns `None` when the path does not exist.
pub fn rewrite(bytes: &[u8], path: &[&str], replacement: &RawValue) -> Option<Bytes> {
    let text = std::str::from_utf8(bytes).ok()?;
    rewrite_str(text, path, replacement).map(|s| Bytes::from(s.into_bytes()))
}

fn rewrite_str(text: &str, path: &[&str], replacement: &RawValue) -> Option<String> {
    let (key, rest) = path.split_first()?;
    let mut object: IndexMap<Cow<'_, str>, Cow<'_, RawValue>> = serde_json::from_str(text).ok()?;
    let slot = object.get_mut(*key)?;
    let new_value = if rest.is_empty() {
        replacement.to_owned()
    } else {
        RawValue::from_string(rewrite_str(slot.get(), rest, replacement)?).ok()?
    };
    *slot = Cow::Owned(new_value);
    serde_json::to_string(&object).ok()
}

/// A JSON-RPC error response. `id` is raw JSON (`null` when the request's id is unknown).
pub fn error_response(id: Option<&RawValue>, code: i32, message: &str) -> Bytes {
    let id = id.map_or("null", RawValue::get);
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"error\"".into());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#
    ))
}

/// A JSON-RPC response carrying `result` (raw JSON) for request `id`.
pub fn result_response(id: &RawValue, result: &RawValue) -> Bytes {
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#,
        id.get(),
        result.get()
    ))
}

/// Makes a client's message a single line for stdio. Raw CR and LF can only be insignificant
/// whitespace in valid JSON (inside strings they must be escaped), so spaces replace them.
pub fn to_single_line(bytes: Bytes) -> Bytes {
    if memchr::memchr2(b'\n', b'\r', &bytes).is_none() {
        return bytes;
    }
    let flattened: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect();
    Bytes::from(flattened)
}

/// Raw JSON for an owned string or number, for building ids and tokens.
pub fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json).expect("callers pass valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_four_shapes() {
        let k = |s: &str| Envelope::parse(s.as_bytes()).map(|e| e.kind);
        assert_eq!(
            k(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Ok(Kind::Request)
        );
        assert_eq!(
            k(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Kind::Notification)
        );
        assert_eq!(
            k(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(Kind::Response)
        );
        assert_eq!(
            k(r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}"#),
            Ok(Kind::Response)
        );
        assert_eq!(
            k(r#"{"jsonrpc":"2.0","id":1,"result":null}"#),
            Ok(Kind::Response)
        );
        assert_eq!(
            k(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            Err(FrameError::Batch)
        );
        assert!(matches!(k("{\"id\":1,"), Err(FrameError::Parse(_))));
        assert!(matches!(k("hello world"), Err(FrameError::Parse(_))));
        assert!(matches!(k("42"), Err(FrameError::Invalid(_))));
        assert!(matches!(k(r#"{"id":1}"#), Err(FrameError::Invalid(_))));
        assert!(matches!(k(r#"{"method":5}"#), Err(FrameError::Invalid(_))));
    }

    /// Found by tests/fuzz: a bad UTF-8 byte inside an ignored value (here `result`) was
    /// accepted, and the shared child's id rewrite, which needs text, then dropped the
    /// response. Anywhere in the frame, it is now a parse error.
    #[test]
    fn invalid_utf8_anywhere_is_a_parse_error() {
        for frame in [
            &b"{\"id\":1,\"result\":{\"text\":\"caf\xe9\"}}"[..],
            b"{\"id\":1,\"error\":{\"\xab\":0}}",
            b"{\"method\":\"x\",\"x-future\":\"\xff\"}",
            b"[\"\xff\"]",
        ] {
            assert!(
                matches!(Envelope::parse(frame), Err(FrameError::Parse(_))),
                "{frame:?}"
            );
        }
    }

    #[test]
    fn id_keys_keep_the_json_type() {
        let a = Envelope::parse(br#"{"id":1,"method":"x"}"#).unwrap();
        let b = Envelope::parse(br#"{"id":"1","method":"x"}"#).unwrap();
        assert_eq!(a.id_key(), Some("1"));
        assert_eq!(b.id_key(), Some("\"1\""));
    }

    #[test]
    fn finds_params_and_meta_fields() {
        let e = Envelope::parse(br#"{"id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"p-1"}}}"#).unwrap();
        assert_eq!(e.param("progressToken", true).unwrap().get(), "\"p-1\"");
        assert!(e.param("progressToken", false).is_none());
        assert!(e.param("requestId", false).is_none());
    }

    #[test]
    fn rewrite_changes_one_field_and_keeps_the_rest() {
        let original = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"é","x-future":{"k":[1,2.50,"\u00e9"]},"_meta":{"progressToken":7,"other":true}}}"#;
        let out = rewrite(
            original.as_bytes(),
            PROGRESS_TOKEN_IN_META,
            &raw("\"sb-1\"".into()),
        )
        .unwrap();
        let out = std::str::from_utf8(&out).unwrap();
        assert!(out.contains(r#""progressToken":"sb-1""#), "{out}");
        // Untouched values keep their exact spelling, escapes and number formats included.
        assert!(
            out.contains(r#""x-future":{"k":[1,2.50,"\u00e9"]}"#),
            "{out}"
        );
        let out = rewrite(out.as_bytes(), &["id"], &raw("99".into())).unwrap();
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .starts_with(r#"{"jsonrpc":"2.0","id":99,"method""#)
        );
        assert!(rewrite(original.as_bytes(), CANCELLED_REQUEST_ID, &raw("1".into())).is_none());
    }

    #[test]
    fn errors_are_valid_json_rpc() {
        let e = error_response(None, code::PARSE_ERROR, "bad \"json\"");
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(v["id"], serde_json::Value::Null);
        assert_eq!(v["error"]["code"], -32700);
        assert_eq!(v["error"]["message"], "bad \"json\"");
    }

    #[test]
    fn single_line_replaces_only_whitespace_newlines() {
        let pretty = Bytes::from_static(b"{\n  \"a\": \"x\\ny\"\r\n}");
        let flat = to_single_line(pretty);
        assert_eq!(&flat[..], b"{   \"a\": \"x\\ny\"  }");
        let v: serde_json::Value = serde_json::from_slice(&flat).unwrap();
        assert_eq!(v["a"], "x\ny");
    }
}
