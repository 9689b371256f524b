//! The 2026-07-28 header value decoding (`=?base64?…?=`): never a panic, and what decodes
//! encodes back to exactly what was sent (canonical only).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::mcp::modern::decode_header_value;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = decode_header_value(raw)
        && let Some(inner) = raw
            .strip_prefix("=?base64?")
            .and_then(|rest| rest.strip_suffix("?="))
    {
        use base64::Engine as _;
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes()),
            inner
        );
    }
});
