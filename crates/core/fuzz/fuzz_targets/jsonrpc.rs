//! The JSON-RPC envelope parser, id rewriting and single-line framing, on any bytes.
//! Oracles: serde_json's own reading of the frame, and a rewrite that changes the id only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard_core::mcp::jsonrpc::{self, Envelope, Kind};

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::parse(data) else {
        return;
    };
    // Accepted means: one JSON object, which serde_json reads too.
    let value: Value = serde_json::from_slice(data).expect("an accepted frame is JSON");
    assert!(value.is_object());

    // Framing for stdio: one line, with the same meaning.
    let line = jsonrpc::to_single_line(bytes::Bytes::copy_from_slice(data));
    assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
    let again = Envelope::parse(&line).expect("a flattened frame still parses");
    assert_eq!(again.kind, envelope.kind);
    assert_eq!(again.method, envelope.method);
    assert_eq!(again.id_key(), envelope.id_key());

    // The relay's id rewrite: the id becomes ours, nothing else changes.
    if envelope.kind == Kind::Request {
        let ours = jsonrpc::raw("\"sb-1\"".to_owned());
        let rewritten = jsonrpc::rewrite(data, &["id"], &ours).expect("a request has an id");
        let mut after: Value = serde_json::from_slice(&rewritten).expect("rewritten is JSON");
        assert_eq!(after["id"], "sb-1");
        let mut before = value.clone();
        // serde_json keeps the last of duplicate keys; the rewrite keeps one too.
        before["id"] = Value::Null;
        after["id"] = Value::Null;
        assert_eq!(before, after);
    }

    // An error answer to whatever id it had is valid JSON.
    let error = jsonrpc::error_response(envelope.id, -32600, &String::from_utf8_lossy(data));
    serde_json::from_slice::<Value>(&error).expect("an error response is JSON");
});
