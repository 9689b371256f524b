//! The redactor: a registered secret never survives verbatim in any text around it. The
//! first byte is the secret's length; the secret follows, then the text, into which the
//! secret is also spliced at a position the text's first byte picks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::redact::{MIN_SECRET_LEN, REDACTED, Redactor};
use switchboard_core::secrets::Sensitive;

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len % 48);
    if rest.len() < len {
        return;
    }
    let (secret, text) = rest.split_at(len);
    let (Ok(secret), Ok(text)) = (std::str::from_utf8(secret), std::str::from_utf8(text)) else {
        return;
    };
    if secret.len() < MIN_SECRET_LEN || REDACTED.contains(secret) {
        return;
    }
    let at = text.bytes().next().map_or(0, usize::from).min(text.len());
    let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let spliced = format!("{}{secret}{}", &text[..at], &text[at..]);
    let redactor = Redactor::new();
    redactor.register_secret(&Sensitive::new(secret.to_owned()));
    for input in [text, spliced.as_str()] {
        let out = redactor.redact(input);
        // Between the markers: text that the marker's own letters and the text around them
        // happen to spell is not the secret surviving.
        assert!(
            out.split(REDACTED).all(|piece| !piece.contains(secret)),
            "{secret:?} survived in {out:?}"
        );
    }
});
