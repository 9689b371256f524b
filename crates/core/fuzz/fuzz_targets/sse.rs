//! The SSE decoder (what remote servers send): chunking never changes the events, and no
//! event's data goes over the limit. The first byte picks the chunk size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::mcp::sse::Decoder;

const LIMIT: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&size, input)) = data.split_first() else {
        return;
    };
    let size = usize::from(size).max(1);
    let mut whole = Decoder::new(LIMIT);
    let expected = whole.push(input);
    let mut chunked = Decoder::new(LIMIT);
    let mut got = Vec::new();
    for chunk in input.chunks(size) {
        got.extend(chunked.push(chunk));
        // Empty chunks, as a transport may deliver them, change nothing either.
        got.extend(chunked.push(&[]));
    }
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    for event in got.iter().flatten() {
        assert!(event.data.len() <= LIMIT);
    }
});
