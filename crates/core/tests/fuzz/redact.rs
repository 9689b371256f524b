//! `redact::Redactor`: a registered secret never survives, in any of the forms the module
//! promises, inside any surrounding text. (The module's own proptests place a secret from a
//! fixed alphabet in URLs and Basic credentials; these take any secret, several at once,
//! any surrounding text, per-byte mixed percent-encoding and base64 at any alignment.)

use base64::Engine as _;
use proptest::prelude::*;
use switchboard_core::redact::{MIN_SECRET_LEN, REDACTED, Redactor};
use switchboard_core::secrets::Sensitive;

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/=%&?#:@\"\\\\ é😀-]{4,24}",
        "[a-zA-Z0-9]{4,12}",
    ]
    .prop_filter("long enough and not part of the marker", |s| {
        s.len() >= MIN_SECRET_LEN && !REDACTED.contains(s.as_str())
    })
}

/// Text around the secret: anything, or the punctuation that URLs, headers and JSON use.
fn surrounding() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[A-Za-z0-9 =&?#:/\"'\\\\+.,;\n-]{0,16}",]
}

/// Percent-encodes each byte or not as `mask` says (unsafe bytes always), hex in either case.
fn percent_mixed(s: &str, mask: &[bool], lower: bool) -> String {
    s.bytes()
        .enumerate()
        .map(|(i, b)| {
            let encode = mask.get(i % mask.len().max(1)).copied().unwrap_or(true)
                || !b.is_ascii_alphanumeric();
            match (encode, lower) {
                (false, _) => (b as char).to_string(),
                (true, false) => format!("%{b:02X}"),
                (true, true) => format!("%{b:02x}"),
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Form {
    Raw,
    Json,
    Debug,
    UrlEncoded,
    Percent(Vec<bool>, bool),
    DoublePercent,
    Base64 {
        before: Vec<u8>,
        after: Vec<u8>,
        url_safe: bool,
        pad: bool,
    },
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Raw),
        Just(Form::Json),
        Just(Form::Debug),
        Just(Form::UrlEncoded),
        (prop::collection::vec(any::<bool>(), 1..6), any::<bool>())
            .prop_map(|(mask, lower)| Form::Percent(mask, lower)),
        Just(Form::DoublePercent),
        (
            prop::collection::vec(any::<u8>(), 0..7),
            prop::collection::vec(any::<u8>(), 0..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(before, after, url_safe, pad)| Form::Base64 {
                before,
                after,
                url_safe,
                pad,
            }),
    ]
}

fn spell(secret: &str, form: &Form) -> String {
    match form {
        Form::Raw => secret.to_owned(),
        Form::Json => {
            let json = serde_json::to_string(secret).expect("a string");
            json[1..json.len() - 1].to_owned()
        }
        Form::Debug => {
            let debug = format!("{secret:?}");
            debug[1..debug.len() - 1].to_owned()
        }
        Form::UrlEncoded => url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        Form::Percent(mask, lower) => percent_mixed(secret, mask, *lower),
        Form::DoublePercent => {
            percent_mixed(&percent_mixed(secret, &[true], false), &[true], false)
        }
        Form::Base64 {
            before,
            after,
            url_safe,
            pad,
        } => {
            let mut bytes = before.clone();
            bytes.extend_from_slice(secret.as_bytes());
            bytes.extend_from_slice(after);
            use base64::engine::general_purpose::{
                STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
            };
            match (url_safe, pad) {
                (false, true) => STANDARD.encode(bytes),
                (false, false) => STANDARD_NO_PAD.encode(bytes),
                (true, true) => URL_SAFE.encode(bytes),
                (true, false) => URL_SAFE_NO_PAD.encode(bytes),
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::cases(256))]

    /// One to three registered secrets, each written in one of the promised forms between
    /// any texts: none of those spellings is left in the output.
    #[test]
    fn registered_secrets_never_survive(
        placed in prop::collection::vec((secret(), form(), surrounding()), 1..4),
        head in surrounding(),
    ) {
        let redactor = Redactor::new();
        let mut text = head;
        let mut spellings = Vec::new();
        for (secret, form, after) in &placed {
            redactor.register_secret(&Sensitive::new(secret.clone()));
            // Base64 of a secret shorter than 5 bytes is not promised.
            if matches!(form, Form::Base64 { .. }) && secret.len() < 5 {
                continue;
            }
            let spelled = spell(secret, form);
            text.push_str(&spelled);
            text.push_str(after);
            spellings.push((secret.clone(), spelled));
        }
        let out = redactor.redact(&text);
        for (secret, spelled) in &spellings {
            prop_assert!(!out.contains(spelled.as_str()), "{spelled:?} survived in {out:?}");
            prop_assert!(!out.contains(secret.as_str()), "{secret:?} survived in {out:?}");
        }
    }

    /// With no secrets and no URL, header or `name=value` syntax, text is kept as is.
    #[test]
    fn plain_text_is_untouched(text in "[A-Za-z0-9 .,!()\n-]{0,80}", secret in "[0-9]{6,10}") {
        let redactor = Redactor::new();
        redactor.register_secret(&Sensitive::new(secret.clone()));
        let out = redactor.redact(&text);
        if !text.contains(&secret) {
            prop_assert_eq!(out.as_ref(), text.as_str());
        }
    }
}
