//! Decoding `text/event-stream` bodies (what remote servers and the proxy itself send), in
//! linear time and bounded memory.
//!
//! Bytes are scanned once: a chunk is searched for line ends only from where the previous
//! chunk stopped, so an event delivered one byte at a time costs what it costs in one piece.
//! An event larger than the decoder's limit is dropped whole (reported as
//! [`SseError::TooLarge`]) without being held in memory, and decoding carries on with the
//! next event: a hostile or broken server cannot make the proxy buffer without end.
//!
//! Line ends are `\n`, `\r\n` or a lone `\r`, as the HTML standard's event-stream format
//! says, including a `\r\n` split across two chunks.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `message` unless the event named itself.
    pub event: String,
    /// The `data` lines, joined with `\n`.
    pub data: Vec<u8>,
    /// The `id` field, when the event (or one before it) set one.
    pub id: Option<String>,
    /// A `retry` field, in milliseconds, when the event carried a valid one.
    pub retry: Option<u64>,
}

/// An event that could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// The event was larger than the decoder's limit and was dropped whole.
    TooLarge { limit: usize },
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::TooLarge { limit } => {
                write!(f, "an SSE event larger than {limit} bytes was dropped")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// Feed it body chunks as they arrive; it hands back every event completed so far.
#[derive(Debug)]
pub struct Decoder {
    limit: usize,
    /// The current line, up to its end (not included).
    line: Vec<u8>,
    /// The previous chunk ended on `\r`: a `\n` first in the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Vec<u8>,
    /// Whether `data` holds at least one data line (an empty `data:` line counts).
    has_data: bool,
    last_id: Option<String>,
    retry: Option<u64>,
    /// The event being read went over the limit; it is skipped up to its blank line.
    oversized: bool,
    /// The current line is (partly) gone because the event went over the limit: when it
    /// ends, it is not the blank line that ends the event.
    line_dropped: bool,
    /// Bytes searched for line ends so far: the tests check that each is searched once.
    #[cfg(test)]
    scanned: usize,
}

impl Decoder {
    /// A decoder that drops events whose fields add up to more than `limit` bytes.
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            limit,
            line: Vec::new(),
            after_cr: false,
            event: None,
            data: Vec::new(),
            has_data: false,
            last_id: None,
            retry: None,
            oversized: false,
            line_dropped: false,
            #[cfg(test)]
            scanned: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Event, SseError>> {
        let mut out = Vec::new();
        let mut rest = chunk;
        // An empty chunk says nothing about what follows a `\r`: keep waiting for the byte.
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(after) = rest.strip_prefix(b"\n") {
                rest = after;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            #[cfg(test)]
            {
                self.scanned += end + 1;
            }
            self.extend_line(&rest[..end]);
            let terminator = rest[end];
            rest = &rest[end + 1..];
            if terminator == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            let dropped = std::mem::take(&mut self.line_dropped);
            if !dropped && let Some(result) = self.process_line(&line) {
                out.push(result);
            }
            // Keep the line's allocation for the next one, unless it was a big one.
            if line.capacity() <= 64 * 1024 {
                self.line = line;
                self.line.clear();
            }
        }
        #[cfg(test)]
        {
            self.scanned += rest.len();
        }
        self.extend_line(rest);
        out
    }

    fn extend_line(&mut self, bytes: &[u8]) {
        if self.oversized {
            self.line_dropped |= !bytes.is_empty() || !self.line.is_empty();
            return;
        }
        if self.line.len() + self.data.len() + bytes.len() > self.limit {
            self.drop_event();
            self.line_dropped = true;
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    /// Forgets what the current event has gathered; the rest of it is skipped.
    fn drop_event(&mut self) {
        self.oversized = true;
        self.line = Vec::new();
        self.data = Vec::new();
    }

    fn process_line(&mut self, line: &[u8]) -> Option<Result<Event, SseError>> {
        if line.is_empty() {
            return self.dispatch();
        }
        if self.oversized || line[0] == b':' {
            return None; // skipped, or a comment (keep-alive)
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    self.drop_event();
                    return None;
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            // An id with a NUL is ignored, as the standard says.
            b"id" if !value.contains(&0) => {
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Result<Event, SseError>> {
        let event = self.event.take();
        let retry = self.retry.take();
        let has_data = std::mem::take(&mut self.has_data);
        if std::mem::take(&mut self.oversized) {
            return Some(Err(SseError::TooLarge { limit: self.limit }));
        }
        let data = std::mem::take(&mut self.data);
        if !has_data {
            return None;
        }
        Some(Ok(Event {
            event: event.unwrap_or_else(|| "message".to_owned()),
            data,
            id: self.last_id.clone(),
            retry,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(results: Vec<Result<Event, SseError>>) -> Vec<(String, String)> {
        results
            .into_iter()
            .map(|r| {
                let e = r.expect("an event");
                (e.event, String::from_utf8(e.data).expect("utf-8"))
            })
            .collect()
    }

    #[test]
    fn parses_events_split_across_chunks() {
        let mut decoder = Decoder::new(1 << 20);
        assert!(
            decoder
                .push(b"event: endpoint\r\ndata: /messages?session")
                .is_empty()
        );
        let got =
            decoder.push(b"_id=1\r\n\r\n: keep-alive\n\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n");
        assert_eq!(
            events(got),
            vec![
                ("endpoint".into(), "/messages?session_id=1".into()),
                ("message".into(), "{\"a\":1}\n{\"b\":2}".into()),
            ]
        );
    }

    #[test]
    fn every_line_end_counts_even_split_between_chunks() {
        let mut decoder = Decoder::new(1 << 20);
        let mut got = decoder.push(b"data: a\r");
        got.extend(decoder.push(b"\n\r"));
        got.extend(decoder.push(b"data: b\r\rdata: c\n\n"));
        assert_eq!(
            events(got),
            vec![
                ("message".into(), "a".into()),
                ("message".into(), "b".into()),
                ("message".into(), "c".into())
            ]
        );
    }

    /// Found by tests/fuzz: an empty chunk between a `\r` and its `\n` made the `\n` a
    /// blank line of its own, which ended the event early (or split one event in two).
    #[test]
    fn an_empty_chunk_does_not_split_a_crlf() {
        let mut decoder = Decoder::new(1 << 20);
        let mut got = decoder.push(b"data: a\r");
        got.extend(decoder.push(b""));
        got.extend(decoder.push(b"\ndata: b\n\n"));
        assert_eq!(events(got), vec![("message".into(), "a\nb".into())]);
    }

    #[test]
    fn ids_and_retry_are_kept() {
        let mut decoder = Decoder::new(1 << 20);
        let got = decoder.push(b"id: s-1\nretry: 3000\ndata:\n\n: x\ndata: y\n\n");
        let first = got[0].clone().expect("event");
        assert_eq!(
            (first.id.as_deref(), first.retry, first.data.as_slice()),
            (Some("s-1"), Some(3000), &b""[..])
        );
        // The last id carries over to the next event; retry does not.
        let second = got[1].clone().expect("event");
        assert_eq!((second.id.as_deref(), second.retry), (Some("s-1"), None));
    }

    #[test]
    fn an_event_over_the_limit_is_dropped_and_the_next_one_arrives() {
        let mut decoder = Decoder::new(16);
        let mut got = decoder.push(b"data: 0123456789");
        got.extend(decoder.push(b"abcdefghij\ndata: more\n\ndata: ok\n\n"));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Err(SseError::TooLarge { limit: 16 }));
        assert_eq!(got[1].clone().expect("event").data, b"ok");
        // Many small lines add up too.
        let mut decoder = Decoder::new(16);
        let got = decoder.push(b"data: 12345\ndata: 12345\ndata: 12345\n\n");
        assert_eq!(got, vec![Err(SseError::TooLarge { limit: 16 })]);
    }

    /// What the decoder holds between pushes never exceeds its limit (the line being read
    /// plus the data gathered, and each kept field), and no byte is searched twice,
    /// whatever the input and the chunking. Beside the code because it reads private
    /// fields; the chunking and reference-model properties are in tests/fuzz/sse.rs.
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            let mut config = ProptestConfig::default();
            // The test command's run is fixed-seed (the same cases everywhere); a long run
            // by hand with PROPTEST_CASES draws new ones (docs/fuzzing.md).
            if std::env::var_os("PROPTEST_CASES").is_none() {
                config.cases = 256;
                config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x5353_4521);
            }
            config
        }

        fn input() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                4 => prop::sample::select(vec![
                    &b"data: "[..], b"event: ", b"id: ", b"retry: 9", b":", b"\n", b"\r",
                    b"\r\n", b"xyz", b"0123456789abcdef",
                ])
                .prop_map(<[u8]>::to_vec),
                1 => any::<u8>().prop_map(|b| vec![b]),
            ];
            prop::collection::vec(piece, 0..100).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn holds_no_more_than_its_limit(
                input in input(),
                limit in 0usize..48,
                cuts in prop::collection::vec(any::<usize>(), 0..16),
            ) {
                let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
                cuts.push(input.len());
                cuts.sort_unstable();
                let mut decoder = Decoder::new(limit);
                let mut from = 0;
                for cut in cuts {
                    for event in decoder.push(&input[from..cut]).into_iter().flatten() {
                        prop_assert!(event.data.len() <= limit);
                    }
                    from = cut;
                    prop_assert!(decoder.line.len() + decoder.data.len() <= limit);
                    // Kept as lossy UTF-8: a bad byte becomes a 3-byte U+FFFD.
                    prop_assert!(decoder.event.as_ref().is_none_or(|e| e.len() <= 3 * limit));
                    prop_assert!(decoder.last_id.as_ref().is_none_or(|i| i.len() <= 3 * limit));
                }
                // At most once: the `\n` of a `\r\n` is stepped over, not searched.
                prop_assert!(decoder.scanned <= input.len());
            }
        }
    }

    /// Linear time: a 32 MiB event fed a byte at a time and in 64 KiB chunks, each byte
    /// searched for a line end exactly once. The parser this replaced rescanned its whole
    /// buffer on every chunk: 2^25 one-byte chunks cost it some 2^49 comparisons. Counted,
    /// not timed, so a busy machine cannot make it flaky.
    #[test]
    fn a_32_mib_event_decodes_in_linear_time_in_any_chunking() {
        const SIZE: usize = 32 * 1024 * 1024;
        let mut body = Vec::with_capacity(SIZE + 16);
        body.extend_from_slice(b"data: ");
        body.resize(SIZE, b'x');
        body.extend_from_slice(b"\n\n");
        for chunk_size in [1, 64 * 1024] {
            let mut decoder = Decoder::new(64 * 1024 * 1024);
            let mut got = Vec::new();
            for chunk in body.chunks(chunk_size) {
                got.extend(decoder.push(chunk));
            }
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].as_ref().expect("event").data.len(), SIZE - 6);
            assert_eq!(decoder.scanned, body.len(), "chunks of {chunk_size}");
        }
    }
}
