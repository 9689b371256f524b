//! The query-key URL builder: `url`, `param` and `key` separated by NUL bytes. The key goes
//! in exactly once under `param`, comes out whole, and `without_key` leaves no trace of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::secrets::Sensitive;
use switchboard_core::url_policy::query_key;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let (Some(url), Some(param), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let Ok(url) = Url::parse(url) else {
        return;
    };
    if query_key::validate_param_name(param).is_err() {
        return;
    }
    let with = query_key::with_key(&url, param, &Sensitive::new(key.to_owned()));
    let values: Vec<String> = with
        .query_pairs()
        .filter(|(name, _)| name.eq_ignore_ascii_case(param))
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(values, vec![key.to_owned()], "{with}");
    // Everything but the query is untouched.
    assert_eq!(with.scheme(), url.scheme());
    assert_eq!(with.host_str(), url.host_str());
    assert_eq!(with.path(), url.path());
    assert_eq!(with.fragment(), url.fragment());

    let without = query_key::without_key(&with, param);
    assert!(
        !without
            .query_pairs()
            .any(|(name, _)| name.eq_ignore_ascii_case(param)),
        "{without}"
    );
    assert_eq!(query_key::without_key(&without, param), without);
});
