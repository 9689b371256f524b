//! The names the aggregate shows for tools and prompts: `<prefix>__<name>`, valid for every
//! common client (`^[a-zA-Z0-9_-]{1,64}$`, the strictest rule in use), unique, and the same
//! on every run for the same servers and tools.
//!
//! - Characters outside `[a-zA-Z0-9_-]` become `_`.
//! - A name that had to change that way, or that is longer than 64, keeps a readable start
//!   and ends in `_` and 8 hex digits of a SHA-256 over the server and the original name:
//!   deterministic, so it survives restarts, and different for different originals.
//! - If two originals still come out the same (a name that looks like another's shortened
//!   form), the later one in the table's order gets the hashed form, then a counter: none
//!   is ever dropped.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

/// The longest name clients accept.
pub const MAX_NAME: usize = 64;
/// Between a prefix and the server's own name.
pub const SEPARATOR: &str = "__";

/// True for a name every common client accepts.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The hash suffix for `original` of `server`: `_` and 8 hex digits.
fn suffix(server: &str, original: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(server.as_bytes());
    hash.update([0]);
    hash.update(original.as_bytes());
    let digest = hash.finalize();
    format!(
        "_{:02x}{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2], digest[3]
    )
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name shown for `original` of `server` under `prefix` (empty: no prefix), before
/// collisions are considered.
pub fn exposed(prefix: &str, server: &str, original: &str) -> String {
    let joined = if prefix.is_empty() {
        original.to_owned()
    } else {
        format!("{prefix}{SEPARATOR}{original}")
    };
    let clean = sanitize(&joined);
    if clean == joined && is_valid(&clean) {
        return clean;
    }
    hashed(&clean, server, original)
}

/// `clean` cut to leave room for the hash suffix, plus the suffix.
fn hashed(clean: &str, server: &str, original: &str) -> String {
    let suffix = suffix(server, original);
    let keep = MAX_NAME - suffix.len();
    // `clean` is ASCII, so any byte index is a char boundary.
    let start = &clean[..clean.len().min(keep)];
    format!("{start}{suffix}")
}

/// One entry of a name table: which server and which of its names an exposed name stands
/// for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub server: String,
    pub original: String,
}

/// Exposed names for `entries` (server, prefix, original name), in the order given (the
/// config's server order, then each server's own list order): unique and valid.
pub fn table<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Vec<(String, Origin)> {
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    for (server, prefix, original) in entries {
        let mut name = exposed(prefix, server, original);
        if taken.contains(&name) {
            name = hashed(&sanitize(&name), server, original);
        }
        let mut n = 2;
        while taken.contains(&name) {
            let tail = format!("-{n}");
            let base = &name[..name.len().min(MAX_NAME - tail.len())];
            name = format!("{base}{tail}");
            n += 1;
        }
        taken.insert(name.clone());
        out.push((
            name,
            Origin {
                server: server.to_owned(),
                original: original.to_owned(),
            },
        ));
    }
    out
}

/// Looks exposed names up.
pub fn index(table: &[(String, Origin)]) -> HashMap<String, Origin> {
    table.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_prefixed_and_kept_readable() {
        assert_eq!(
            exposed("github", "github", "create_issue"),
            "github__create_issue"
        );
        assert_eq!(exposed("", "time", "get_time"), "get_time");
    }

    #[test]
    fn long_or_invalid_names_are_shortened_with_a_stable_hash() {
        let long = "x".repeat(100);
        let a = exposed("srv", "srv", &long);
        assert!(is_valid(&a), "{a}");
        assert_eq!(a, exposed("srv", "srv", &long), "stable");
        let dotted = exposed("my.server", "my.server", "do thing");
        assert!(is_valid(&dotted) && dotted.starts_with("my_server__do_thing_"));
        assert_ne!(
            exposed("a", "a", "x.y"),
            exposed("a", "a", "x y"),
            "different originals, different names"
        );
    }

    #[test]
    fn collisions_are_resolved_never_dropped() {
        let entries = [
            ("a", "p", "t"),
            ("b", "p", "t"),
            ("c", "p", "t"),
            ("d", "", "p__t"),
        ];
        let table = table(entries.iter().copied());
        assert_eq!(table.len(), 4);
        let names: HashSet<&String> = table.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 4, "{table:?}");
        assert!(names.iter().all(|n| is_valid(n)));
        assert_eq!(table[0].0, "p__t", "the first keeps the plain name");
    }
}
