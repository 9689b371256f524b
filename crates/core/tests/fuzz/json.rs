//! JSON text generators shared by the targets: valid JSON spelled the odd ways real peers
//! spell it (escapes, number formats, whitespace, CR/LF), so "keeps the exact bytes"
//! properties have bytes worth keeping.

use proptest::prelude::*;

/// Insignificant JSON whitespace, newlines included.
pub fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", " ", "\n", "\r\n", "\t", " \r", "\n  "])
}

/// A JSON string literal (quotes included) for `text`, each character either literal or
/// `\uXXXX`-escaped as `escape` says; quotes, backslashes and controls always escaped.
pub fn spell_string(text: &str, escape: &[bool]) -> String {
    let mut out = String::from("\"");
    for (i, c) in text.chars().enumerate() {
        let force = escape
            .get(i % escape.len().max(1))
            .copied()
            .unwrap_or(false);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if !force => out.push_str("\\n"),
            c if (c as u32) < 0x20 || force => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string literal with random escapes.
pub fn json_string() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            "[a-z/_-]{0,10}".boxed(),
            any::<String>().boxed(),
            "[\"\\\\\n\r\t é€😀\u{0}]{0,6}".boxed(),
        ],
        prop::collection::vec(prop::bool::weighted(0.2), 1..8),
    )
        .prop_map(|(text, escape)| spell_string(&text, &escape))
}

/// A JSON number in any valid spelling (`-0`, `2.50`, `1E+3`).
pub fn json_number() -> impl Strategy<Value = String> {
    "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,2})?"
}

/// Any JSON value, as text without surrounding whitespace.
pub fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        json_number(),
        json_string(),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((inner.clone(), ws(), ws()), 0..4).prop_map(|items| {
                let body: Vec<String> = items
                    .into_iter()
                    .map(|(v, a, b)| format!("{a}{v}{b}"))
                    .collect();
                format!("[{}]", body.join(","))
            }),
            prop::collection::vec((json_string(), inner, ws(), ws()), 0..4).prop_map(|members| {
                let body: Vec<String> = members
                    .into_iter()
                    .map(|(k, v, a, b)| format!("{a}{k}{b}:{a}{v}{b}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// Applies a small byte-level corruption: truncate, delete, insert or overwrite a byte.
pub fn mutate(mut bytes: Vec<u8>, how: (u8, usize, u8)) -> Vec<u8> {
    let (kind, at, byte) = how;
    if bytes.is_empty() {
        bytes.push(byte);
        return bytes;
    }
    let at = at % bytes.len();
    match kind % 5 {
        0 => bytes.truncate(at),
        1 => {
            bytes.remove(at);
        }
        2 => bytes.insert(at, byte),
        3 => bytes[at] = byte,
        _ => {}
    }
    bytes
}

/// A byte for [`mutate`]: mostly JSON punctuation, sometimes anything.
pub fn mutation() -> impl Strategy<Value = (u8, usize, u8)> {
    (
        any::<u8>(),
        any::<usize>(),
        prop_oneof![
            3 => prop::sample::select(b"{}[]\",:\\ \n0a-".to_vec()),
            1 => any::<u8>(),
        ],
    )
}
