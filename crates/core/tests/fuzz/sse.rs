//! `mcp::sse::Decoder`: chunking never changes the events, and they are what a plain
//! whole-input reading of the event-stream format (plus the documented size limit) gives.

use proptest::prelude::*;
use switchboard_core::mcp::sse::{Decoder, Event, SseError};

type Results = Vec<Result<Event, SseError>>;

/// The reference: the whole input split into lines first (`\r\n`, `\n` or `\r`; an
/// unterminated last line is not a line yet), then the HTML standard's field rules. An
/// event is dropped whole when one of its lines, added to the data gathered before it, or
/// its data with one more data line, goes over `limit`.
fn reference(input: &[u8], limit: usize) -> Results {
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\n' => {
                lines.push(&input[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&input[start..i]);
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }

    let mut out = Vec::new();
    let (mut event, mut data, mut has_data, mut retry) = (None::<String>, Vec::new(), false, None);
    let mut last_id: Option<String> = None;
    let mut dropped = false;
    for line in lines {
        if line.is_empty() {
            let (name, r, had) = (event.take(), retry.take(), std::mem::take(&mut has_data));
            let d = std::mem::take(&mut data);
            if std::mem::take(&mut dropped) {
                out.push(Err(SseError::TooLarge { limit }));
            } else if had {
                out.push(Ok(Event {
                    event: name.unwrap_or_else(|| "message".into()),
                    data: d,
                    id: last_id.clone(),
                    retry: r,
                }));
            }
            continue;
        }
        if dropped {
            continue;
        }
        if line.len() + data.len() > limit {
            dropped = true;
            data.clear();
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => event = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                if data.len() + value.len() + 1 > limit {
                    dropped = true;
                    data.clear();
                    continue;
                }
                if has_data {
                    data.push(b'\n');
                }
                data.extend_from_slice(value);
                has_data = true;
            }
            b"id" if !value.contains(&0) => {
                last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                retry = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {}
        }
    }
    out
}

/// Feeds `input` cut at `cuts` (any positions, repeated ones giving empty chunks).
fn decode(input: &[u8], cuts: &[usize], limit: usize) -> Results {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut decoder = Decoder::new(limit);
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts {
        out.extend(decoder.push(&input[from..cut]));
        from = cut;
    }
    out.extend(decoder.push(&input[from..]));
    out
}

fn line_end() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["\n", "\r\n", "\r"])
}

/// What one generated line means.
#[derive(Debug, Clone)]
enum Line {
    Data(String),
    Event(String),
    Id(String),
    Retry(u32),
    Comment(String),
    Unknown(String),
}

fn value() -> impl Strategy<Value = String> {
    "[^\r\n\u{0}]{0,12}"
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        4 => value().prop_map(Line::Data),
        1 => "[a-z/]{1,8}".prop_map(Line::Event),
        1 => value().prop_map(Line::Id),
        1 => any::<u32>().prop_map(Line::Retry),
        1 => value().prop_map(Line::Comment),
        1 => ("x[a-z]{0,5}", value()).prop_map(|(f, v)| Line::Unknown(format!("{f}: {v}"))),
    ]
}

/// Ends a line; a `\n` right after a `\r` would join it into one `\r\n`, so it is
/// written `\r\n` (two line ends in all).
fn push_end(text: &mut String, end: &str) {
    if end == "\n" && text.ends_with('\r') {
        text.push_str("\r\n");
    } else {
        text.push_str(end);
    }
}

/// Well-formed events: each some lines and a blank line, every line end any of the three;
/// `data` written with or without the optional space, or as a bare `data` field name.
fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<Event>)> {
    prop::collection::vec(
        prop::collection::vec((line(), line_end(), 0u8..3), 0..5),
        0..6,
    )
    .prop_flat_map(|events| {
        let ends = prop::collection::vec(line_end(), events.len());
        (Just(events), ends)
    })
    .prop_map(|(events, ends)| {
        let mut text = String::new();
        let mut expected = Vec::new();
        let mut last_id = None;
        for (lines, blank) in events.iter().zip(ends) {
            let (mut data, mut name, mut retry): (Option<String>, _, _) = (None, None, None);
            for (line, end, style) in lines {
                match line {
                    Line::Data(v) => {
                        match (style, v.is_empty()) {
                            (0, true) => text.push_str("data"),
                            (0, false) | (1, _) => text.push_str(&format!("data: {v}")),
                            _ => text.push_str(&format!("data:{v}")),
                        }
                        // Without the space, a value starting with one keeps it only
                        // when written with `data: `; written `data:` it loses it.
                        let v = if *style == 2 {
                            v.strip_prefix(' ').unwrap_or(v)
                        } else {
                            v
                        };
                        data = Some(match data {
                            Some(d) => format!("{d}\n{v}"),
                            None => v.to_owned(),
                        });
                    }
                    Line::Event(n) => {
                        text.push_str(&format!("event: {n}"));
                        name = Some(n.clone());
                    }
                    Line::Id(v) => {
                        text.push_str(&format!("id: {v}"));
                        last_id = Some(v.clone());
                    }
                    Line::Retry(ms) => {
                        text.push_str(&format!("retry: {ms}"));
                        retry = Some(u64::from(*ms));
                    }
                    Line::Comment(c) => text.push_str(&format!(":{c}")),
                    Line::Unknown(u) => text.push_str(u),
                }
                push_end(&mut text, end);
            }
            push_end(&mut text, blank);
            if let Some(data) = data {
                expected.push(Event {
                    event: name.unwrap_or_else(|| "message".into()),
                    data: data.into_bytes(),
                    id: last_id.clone(),
                    retry,
                });
            }
        }
        (text.into_bytes(), expected)
    })
}

/// Bytes biased towards event-stream syntax, but anything.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            &b"data"[..], b"data: ", b"event:", b"id: ", b"retry: ", b":", b" ", b"\n", b"\r",
            b"\r\n", b"x", b"12", b"\0", "é".as_bytes(),
        ])
        .prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|pieces| pieces.concat())
}

fn limit() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..40, Just(1 << 20)]
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..12)
}

proptest! {
    #![proptest_config(crate::cases(512))]

    /// Generated well-formed streams give exactly the generated events, whatever the
    /// chunking (empty chunks included), and so does the reference.
    #[test]
    fn well_formed_streams_give_their_events((input, events) in stream(), cuts in cuts()) {
        let want: Results = events.into_iter().map(Ok).collect();
        prop_assert_eq!(&reference(&input, 1 << 20), &want, "the reference model itself");
        prop_assert_eq!(decode(&input, &cuts, 1 << 20), want);
    }

    /// Any bytes, any limit, any chunking: the same results as the whole-input reference;
    /// one byte at a time too.
    #[test]
    fn any_bytes_any_chunking_match_the_reference(
        input in prop_oneof![noise(), stream().prop_map(|(bytes, _)| bytes)],
        limit in limit(),
        cuts in cuts(),
    ) {
        let want = reference(&input, limit);
        prop_assert_eq!(&decode(&input, &cuts, limit), &want);
        let every_byte: Vec<usize> = (0..=input.len()).collect();
        prop_assert_eq!(decode(&input, &every_byte, limit), want);
    }
}
