//! Redaction of secrets from every log line and every error text that can reach a client or
//! the UI.
//!
//! One [`Redactor`] per process ([`Redactor::global`]) holds what must never be printed, and
//! [`install`] puts a [`RedactingLogger`] in front of the real logger, so every `log` record,
//! including the HTTP client library's own (reqwest 0.12 logs full URLs through `log`), is
//! redacted before it is written. Errors shown to a client or the UI go through
//! [`redact_error`]; raw upstream error bodies are never passed on at all (callers' rule).
//!
//! What is replaced with [`REDACTED`]:
//! 1. **Exact values** of the secrets currently loaded ([`Redactor::register_secret`]),
//!    anywhere in the text, also percent-encoded (any mix of literal and `%XX`, either hex
//!    case, up to double encoding), with `+` for spaces, JSON- or `Debug`-escaped, and in
//!    base64 at any alignment (so a `Basic` credential `user:secret` is caught whatever the
//!    user name; for secrets of 5 bytes or more).
//! 2. **URL parameters**: the value of any query or fragment parameter (after `?`, `&`, `#`
//!    or `;`, with or without a scheme in front: `GET /mcp?token=…` counts) whose name is a
//!    registered parameter name or contains one of [`SENSITIVE_PARAM_PARTS`],
//!    case-insensitively. The name stays, so logs still say which parameter was there.
//! 3. **Userinfo** of any `scheme://user:pass@host` (http, https, ws, wss and every other
//!    scheme): the whole `user:pass` or `token` part becomes `[REDACTED]@`.
//! 4. **Header-looking text**: `Authorization: Bearer xyz`, `X-API-Key: xyz`,
//!    `"authorization": "Basic xyz"` (a `Debug`-printed header map), `api_key: "xyz"`,
//!    and `NAME=value` pairs such as `API_KEY=xyz` or `--api-key=xyz` in command lines and
//!    env dumps. An auth scheme word (`Bearer`, `Basic`, …) is kept; the rest is redacted.
//!
//! Over-redaction is preferred to a leak: names match by substring (`sig` also matches
//! `design`), and a value runs to the next `&`, quote or whitespace. Everything outside the
//! redacted ranges is kept byte-for-byte, and text with nothing to redact is returned as
//! [`Cow::Borrowed`] without copying.
//!
//! Limitations: a secret shorter than [`MIN_SECRET_LEN`] bytes is not matched by value (too
//! many false hits), nor is a secret that has been transformed some other way (hashed,
//! split, encoded in another scheme). (A percent-encoded secret right after a cut-short
//! escape, `…%4` then `1ab%20cd`, which decodes as `…Aab cd`, is caught: found by
//! tests/fuzz, see `scan_eaten_heads`.) Path segments
//! (`/bot<token>/…`) are only redacted by exact value. Redaction works on the formatted
//! message only: `log`'s structured key-values (the unstable `kv` feature) are not
//! forwarded.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{LazyLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

use crate::sensitive::Sensitive;

/// What every redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this (in bytes) are not registered: a 1–3 byte value would match
/// inside ordinary words and numbers and mangle every log line without protecting much.
pub const MIN_SECRET_LEN: usize = 4;

/// Name parts that make a URL query or fragment parameter sensitive (case-insensitive
/// substring match). `code` is here because OAuth redirects carry the authorization code as
/// `?code=…`; `sig` covers SAS tokens and signed URLs.
pub const SENSITIVE_PARAM_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "sig",
    "signature",
    "pass",
    "pwd",
    "auth",
    "credential",
    "session",
    "code",
    "bearer",
    "jwt",
    "cookie",
    "private",
    "access",
];

/// Name parts that make a header-looking `name: value` or a free-standing `name=value`
/// sensitive. Narrower than [`SENSITIVE_PARAM_PARTS`] on purpose: outside URLs, `code`,
/// `access`, `pass` and `sig` appear in ordinary log text (`exit code=1`,
/// `"passthrough": true`, `Access-Control-Allow-Origin: *`) that must stay readable.
pub const SENSITIVE_HEADER_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "credential",
    "session",
    "signature",
    "bearer",
    "jwt",
    "cookie",
    "private",
];

/// Credential headers recognised anywhere on a line, not only at its start.
const WELL_KNOWN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
    "private-token",
    "x-goog-api-key",
    "x-amz-security-token",
    "ocp-apim-subscription-key",
];

/// Auth scheme words kept in front of a redacted header value, so logs still say which kind
/// of credential was sent.
const AUTH_SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "digest",
    "token",
    "negotiate",
    "ntlm",
    "apikey",
    "hoba",
    "mutual",
];

/// A base64 fragment shorter than this is not searched for: it would hit other base64 text.
const MIN_BASE64_CORE: usize = 6;

/// How many rounds of percent-decoding are searched (2 catches a URL nested in a URL).
const MAX_DECODE_DEPTH: usize = 2;

/// Secrets, parameter names and the matchers built from them. Thread-safe; `redact` takes a
/// read lock only, so concurrent log lines don't contend.
#[derive(Default)]
pub struct Redactor {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Registered secret values and how many holders registered each (two servers can share
    /// a key; forgetting one must not unprotect the other).
    secrets: HashMap<String, usize>,
    /// One automaton over every distinct form of every registered secret (raw, escaped,
    /// base64, …): one pass over a log line, however many secrets are registered.
    /// `None` while there is none.
    finder: Option<AhoCorasick>,
    /// The forms that begin with one or two hex digits, without them (`tail_heads[i]` is
    /// what pattern `i` lacks): in a percent-decoded view such a form's first digits may
    /// have been eaten by a cut-short escape just before it (`…%4` + `1ab…` decodes as
    /// `…Aab…`), so its tail is looked for right after an escape that ends with its head.
    tail_finder: Option<AhoCorasick>,
    tail_heads: Vec<Vec<u8>>,
    /// Registered parameter names, ASCII-lowercased, with registration counts.
    names: HashMap<Vec<u8>, usize>,
    /// The automaton could not be built: redact everything rather than risk a leak.
    finder_failed: bool,
}

impl fmt::Debug for Redactor {
    /// Counts only: the whole point of this type is not to print what it holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.read();
        f.debug_struct("Redactor")
            .field("secrets", &st.secrets.len())
            .field("param_names", &st.names.len())
            .finish()
    }
}

static GLOBAL: LazyLock<Redactor> = LazyLock::new(Redactor::new);

/// The process-wide redactor (same as [`Redactor::global`]).
pub fn global() -> &'static Redactor {
    &GLOBAL
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The process-wide redactor that [`RedactingLogger`] and [`redact_error`] use.
    pub fn global() -> &'static Redactor {
        &GLOBAL
    }

    /// Redacts every occurrence of `value` (and its encoded forms, see the module docs) from
    /// now on. Values shorter than [`MIN_SECRET_LEN`] bytes are ignored: they cannot be
    /// redacted by value without mangling ordinary text. Registering a value twice needs two
    /// [`forget_secret`](Self::forget_secret) calls.
    pub fn register_secret(&self, value: &Sensitive<String>) {
        let value = value.expose();
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let mut st = self.write();
        let count = st.secrets.entry(value.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            st.rebuild_finders();
        }
    }

    /// Undoes one [`register_secret`](Self::register_secret) of `value` (when a secret is
    /// deleted or rotated out). Unknown values are ignored.
    pub fn forget_secret(&self, value: &Sensitive<String>) {
        let mut st = self.write();
        let Some(count) = st.secrets.get_mut(value.expose().as_str()) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            st.secrets.remove(value.expose().as_str());
            st.rebuild_finders();
        }
    }

    /// Treats a query/fragment parameter, header or `name=value` pair called `name` as
    /// secret-bearing (for instance `tavilyApiKey`), matched exactly but case-insensitively.
    pub fn register_param_name(&self, name: &str) {
        if name.is_empty() {
            return;
        }
        *self
            .write()
            .names
            .entry(name.as_bytes().to_ascii_lowercase())
            .or_insert(0) += 1;
    }

    /// Undoes one [`register_param_name`](Self::register_param_name).
    pub fn forget_param_name(&self, name: &str) {
        let key = name.as_bytes().to_ascii_lowercase();
        let mut st = self.write();
        if let Some(count) = st.names.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                st.names.remove(&key);
            }
        }
    }

    /// `text` with every secret replaced by [`REDACTED`] (rules in the module docs). Returns
    /// `Cow::Borrowed(text)` when there is nothing to redact. Never panics.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let st = self.read();
        if st.finder_failed {
            return Cow::Owned(REDACTED.to_owned());
        }
        let mut ranges = Vec::new();
        st.find(text.as_bytes(), true, &mut ranges);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = splice(text, ranges);
        // A marker next to the surrounding text can only form a new match of a secret that
        // itself contains part of "[REDACTED]"; a few more passes remove such matches.
        for _ in 0..3 {
            let mut more = Vec::new();
            st.find(out.as_bytes(), false, &mut more);
            if more.is_empty() {
                break;
            }
            out = splice(&out, more);
        }
        Cow::Owned(out)
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic elsewhere while holding the lock must not turn off redaction (or panic
        // inside the logger): the state is always consistent between statements.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn rebuild_finders(&mut self) {
        let mut forms = HashSet::new();
        for secret in self.secrets.keys() {
            secret_forms(secret, &mut forms);
        }
        let mut forms: Vec<Vec<u8>> = forms.into_iter().collect();
        forms.sort();
        // Standard semantics with overlapping search: every occurrence of every form is
        // reported, a short secret inside a longer one included; the ranges are merged.
        self.finder = (!forms.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&forms)
                    .inspect_err(|e| {
                        // Only on absurd sizes; then every line is withheld (see `redact`).
                        eprintln!("redactor: cannot build the secret matcher: {e}");
                    })
                    .ok()
            })
            .flatten();
        let mut tails = Vec::new();
        for form in &forms {
            for head in 1..=2 {
                if form.len() > head && form[..head].iter().all(|&b| hex(b).is_some()) {
                    tails.push((form[head..].to_vec(), form[..head].to_vec()));
                }
            }
        }
        tails.sort();
        tails.dedup();
        self.tail_finder = (!tails.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(tails.iter().map(|(tail, _)| tail))
                    .ok()
            })
            .flatten();
        self.tail_heads = tails.into_iter().map(|(_, head)| head).collect();
        self.finder_failed = !forms.is_empty() && self.finder.is_none()
            || !self.tail_heads.is_empty() && self.tail_finder.is_none();
    }

    /// Byte ranges of `text` to redact: in the text itself and in its percent-decoded views
    /// (mapped back to the text). `structure` adds the URL/header rules to the exact values.
    fn find(&self, text: &[u8], structure: bool, out: &mut Vec<(usize, usize)>) {
        self.scan(text, structure, out);
        if memchr::memchr(b'%', text).is_none() {
            return;
        }
        let mut view: Option<(Vec<u8>, Vec<usize>)> = None;
        for _ in 0..MAX_DECODE_DEPTH {
            let src: &[u8] = view.as_ref().map_or(text, |(bytes, _)| bytes.as_slice());
            let Some((bytes, local)) = percent_decode(src) else {
                break;
            };
            // `starts[i]` is where decoded byte i begins in `text`; `starts[len]` is its end.
            let starts: Vec<usize> = match &view {
                None => local.clone(),
                Some((_, prev)) => local
                    .iter()
                    .map(|&s| prev.get(s).copied().unwrap_or(text.len()))
                    .collect(),
            };
            let mut hits = Vec::new();
            self.scan(&bytes, structure, &mut hits);
            self.scan_eaten_heads(src, &bytes, &local, &mut hits);
            out.extend(
                hits.into_iter()
                    .filter_map(|(a, b)| Some((*starts.get(a)?, *starts.get(b)?))),
            );
            let more = memchr::memchr(b'%', &bytes).is_some();
            view = Some((bytes, starts));
            if !more {
                break;
            }
        }
    }

    /// Secrets whose first hex digit(s) an escape just before them ate, in the decoded view
    /// `bytes` of `src` (`local[i]`: where decoded byte i starts in `src`). A hit covers the
    /// escape too.
    fn scan_eaten_heads(
        &self,
        src: &[u8],
        bytes: &[u8],
        local: &[usize],
        out: &mut Vec<(usize, usize)>,
    ) {
        let Some(tails) = &self.tail_finder else {
            return;
        };
        for found in tails.find_overlapping_iter(bytes) {
            let (start, end) = (found.start(), found.end());
            let head = &self.tail_heads[found.pattern().as_usize()];
            let (Some(&escape), Some(&after)) = (
                start.checked_sub(1).and_then(|i| local.get(i)),
                local.get(start),
            ) else {
                continue;
            };
            if after - escape == 3
                && src[escape] == b'%'
                && src[after - head.len()..after] == head[..]
            {
                out.push((start - 1, end));
            }
        }
    }

    fn scan(&self, text: &[u8], structure: bool, out: &mut Vec<(usize, usize)>) {
        if let Some(finder) = &self.finder {
            out.extend(
                finder
                    .find_overlapping_iter(text)
                    .map(|found| (found.start(), found.end())),
            );
        }
        if structure {
            scan_structure(text, &self.names, out);
        }
    }
}

/// Every form in which `secret` may show up in text, besides percent-encoding (which
/// `find` handles by decoding the text instead).
fn secret_forms(secret: &str, forms: &mut HashSet<Vec<u8>>) {
    forms.insert(secret.as_bytes().to_vec());
    if secret.contains(' ') {
        // application/x-www-form-urlencoded writes a space as '+'.
        forms.insert(secret.replace(' ', "+").into_bytes());
    }
    // Inside a JSON string or a `{:?}`-printed string, quotes and backslashes are escaped.
    if let Ok(json) = serde_json::to_string(secret) {
        forms.insert(strip_quotes(&json).as_bytes().to_vec());
    }
    let debug = format!("{secret:?}");
    forms.insert(strip_quotes(&debug).as_bytes().to_vec());
    // Base64 of any text that contains the secret (e.g. `user:secret` in a Basic header)
    // contains, at one of three alignments, the characters that depend on the secret's
    // bytes only. Those "cores" are what we search for.
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let first = (8 * offset).div_ceil(6);
            let end = 8 * bytes.len() / 6;
            if let Some(core) = encoded.get(first..end)
                && core.len() >= MIN_BASE64_CORE
            {
                forms.insert(core.as_bytes().to_vec());
            }
        }
    }
    forms.retain(|form| form.len() >= MIN_SECRET_LEN.min(secret.len()));
}

fn strip_quotes(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// One round of percent-decoding: the decoded bytes and, for each, where it starts in `src`
/// (plus `src.len()` at the end). `None` when there is no `%XX` to decode.
///
/// By hand: the `percent-encoding` crate decodes, but cannot say where each decoded byte
/// came from, which redaction needs to cut the right range out of the original text.
fn percent_decode(src: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    // Most '%' in log text is "40%": don't allocate unless there is a real escape.
    let escaped = memchr::memchr_iter(b'%', src).any(|i| {
        src.get(i + 1).copied().and_then(hex).is_some()
            && src.get(i + 2).copied().and_then(hex).is_some()
    });
    if !escaped {
        return None;
    }
    let mut bytes = Vec::with_capacity(src.len());
    let mut starts = Vec::with_capacity(src.len() + 1);
    let mut changed = false;
    let mut i = 0;
    while i < src.len() {
        starts.push(i);
        let decoded = match (src[i], src.get(i + 1), src.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| (h << 4) | l),
            _ => None,
        };
        if let Some(byte) = decoded {
            bytes.push(byte);
            i += 3;
            changed = true;
        } else {
            bytes.push(src[i]);
            i += 1;
        }
    }
    starts.push(src.len());
    changed.then_some((bytes, starts))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `text` with each range (merged where they overlap or touch, widened to char boundaries)
/// replaced by [`REDACTED`].
fn splice(text: &str, mut ranges: Vec<(usize, usize)>) -> String {
    for (start, end) in &mut ranges {
        // Ranges found in decoded views can start or end inside a multi-byte character.
        *end = (*end).min(text.len());
        while *start > 0 && !text.is_char_boundary(*start) {
            *start -= 1;
        }
        while *end < text.len() && !text.is_char_boundary(*end) {
            *end += 1;
        }
    }
    ranges.retain(|(start, end)| start < end);
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut iter = ranges.into_iter().peekable();
    while let Some((start, mut end)) = iter.next() {
        while let Some(&(next_start, next_end)) = iter.peek() {
            if next_start > end {
                break;
            }
            end = end.max(next_end);
            iter.next();
        }
        out.push_str(text.get(pos..start).unwrap_or_default());
        out.push_str(REDACTED);
        pos = end;
    }
    out.push_str(text.get(pos..).unwrap_or_default());
    out
}

// === the structural rules: URLs, headers, name=value ===

/// Ends a URL, a parameter value or an unquoted value: whitespace, controls, quotes and the
/// characters that delimit URLs in prose and markup.
fn is_term(b: u8) -> bool {
    b.is_ascii_whitespace()
        || b.is_ascii_control()
        || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`')
}

/// A byte of a header name, identifier or command-line flag.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// What may precede a header name or a free-standing `name=value`.
fn is_boundary(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b'[' | b'{' | b',' | b'"' | b'\'')
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn contains_part(name: &[u8], parts: &[&str]) -> bool {
    parts.iter().any(|part| {
        name.windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
    })
}

fn is_registered(name: &[u8], names: &HashMap<Vec<u8>, usize>) -> bool {
    !names.is_empty() && names.contains_key(&name.to_ascii_lowercase())
}

/// Scans `t` once, left to right, adding the ranges of userinfo, sensitive parameter values
/// and header values. After a redacted value the scan resumes at its end, which keeps it
/// linear on hostile input such as `?token=?token=?token=…`.
fn scan_structure(t: &[u8], names: &HashMap<Vec<u8>, usize>, out: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while let Some(&b) = t.get(i) {
        let resume = match b {
            b':' if t.get(i + 1..).is_some_and(|r| r.starts_with(b"//")) => {
                userinfo(t, i + 3, out);
                None
            }
            b':' => header(t, i, names, out),
            b'?' | b'&' | b'#' | b';' => param(t, i + 1, names, out),
            _ if i == 0 || t.get(i - 1).copied().is_some_and(is_boundary) => {
                bearer(t, i, out).or_else(|| name_value(t, i, names, out))
            }
            _ if t.get(i - 1).is_some_and(|p| !p.is_ascii_alphanumeric()) => bearer(t, i, out),
            _ => None,
        };
        i = resume.unwrap_or(i + 1).max(i + 1);
    }
}

/// `scheme://userinfo@host`: the authority starts at `start`.
fn userinfo(t: &[u8], start: usize, out: &mut Vec<(usize, usize)>) {
    let mut at = None;
    for (k, &b) in t.iter().enumerate().skip(start) {
        if matches!(b, b'/' | b'?' | b'#') || is_term(b) {
            break;
        }
        if b == b'@' {
            // The last '@' ends the userinfo: an unencoded '@' in a password comes before it.
            at = Some(k);
        }
    }
    if let Some(at) = at.filter(|&at| at > start) {
        out.push((start, at));
    }
}

/// A `name=value` parameter starting at `start` (just after `?`, `&`, `#` or `;`).
fn param(
    t: &[u8],
    start: usize,
    names: &HashMap<Vec<u8>, usize>,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let end = start
        + t.get(start..)?
            .iter()
            .position(|&b| matches!(b, b'=' | b'?' | b'&' | b'#' | b';') || is_term(b))?;
    if end == start || t.get(end) != Some(&b'=') {
        return None;
    }
    let name = &t[start..end];
    if !(is_registered(name, names) || contains_part(name, SENSITIVE_PARAM_PARTS)) {
        return None;
    }
    // The value runs to the next '&' or '#'; a ';' or '?' inside it does not end it, so a
    // value is never cut short (over-redaction is preferred to a leak).
    let value = end + 1;
    let value_end = scan_until(t, value, |b| matches!(b, b'&' | b'#') || is_term(b));
    (value_end > value).then(|| {
        out.push((value, value_end));
        value_end
    })
}

/// A free-standing `name=value` (`API_KEY=…`, `--api-key=…`, `token="…"`) at `start`.
fn name_value(
    t: &[u8],
    start: usize,
    names: &HashMap<Vec<u8>, usize>,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let end = scan_until(t, start, |b| !is_name_byte(b));
    if end == start || t.get(end) != Some(&b'=') {
        return None;
    }
    let name = &t[start..end];
    if !(is_registered(name, names) || contains_part(name, SENSITIVE_HEADER_PARTS)) {
        return None;
    }
    let value = end + 1;
    let (value, value_end, resume) = match t.get(value) {
        Some(&q @ (b'"' | b'\'')) => {
            let close = closing_quote(t, value + 1, q);
            (value + 1, close, close)
        }
        _ => {
            let e = scan_until(t, value, |b| b == b'&' || is_term(b));
            (value, e, e)
        }
    };
    push_value(t, value, value_end, out);
    (resume > start).then_some(resume)
}

/// A header-looking `name: value` around the colon at `colon`: `"name": "value"` and
/// `name: "value"` anywhere, `name: value` (to the end of the line) at the start of a line or
/// for a well-known credential header.
fn header(
    t: &[u8],
    colon: usize,
    names: &HashMap<Vec<u8>, usize>,
    out: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let mut name_end = colon;
    let quote = match colon.checked_sub(1).and_then(|k| t.get(k)) {
        Some(&q @ (b'"' | b'\'')) => {
            name_end -= 1;
            Some(q)
        }
        _ => None,
    };
    let mut name_start = name_end;
    while name_start > 0 && t.get(name_start - 1).copied().is_some_and(is_name_byte) {
        name_start -= 1;
    }
    if name_start == name_end {
        return None;
    }
    let name = t.get(name_start..name_end)?;
    let mut before = name_start;
    if let Some(q) = quote {
        if before == 0 || t.get(before - 1) != Some(&q) {
            return None;
        }
        before -= 1;
    }
    if before > 0 && !t.get(before - 1).copied().is_some_and(is_boundary) {
        return None;
    }
    let registered = is_registered(name, names);
    let value = scan_until(t, colon + 1, |b| b != b' ' && b != b'\t');
    match t.get(value) {
        Some(&q @ (b'"' | b'\'')) => {
            if !(registered || contains_part(name, SENSITIVE_HEADER_PARTS)) {
                return None;
            }
            let close = closing_quote(t, value + 1, q);
            push_value(t, value + 1, close, out);
            Some(close)
        }
        // A quoted name with an unquoted value is JSON's numbers and booleans, or prose like
        // "secret 'name': cause", neither of which holds a secret.
        _ if quote.is_some() => None,
        _ => {
            let well_known = WELL_KNOWN_HEADERS
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h.as_bytes()));
            let at_line_start = t
                .get(..before)?
                .iter()
                .rev()
                .find(|&&b| b != b' ' && b != b'\t')
                .is_none_or(|&b| b == b'\n' || b == b'\r');
            if !(well_known
                || registered
                || (at_line_start && contains_part(name, SENSITIVE_HEADER_PARTS)))
            {
                return None;
            }
            let end = scan_until(t, value, |b| b == b'\n' || b == b'\r');
            push_value(t, value, end, out);
            Some(end)
        }
    }
}

/// `Bearer <token>` anywhere (the word is distinctive enough to need no header name).
fn bearer(t: &[u8], start: usize, out: &mut Vec<(usize, usize)>) -> Option<usize> {
    if !t.get(start..start + 6)?.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = scan_until(t, start + 6, |b| b != b' ' && b != b'\t');
    if token == start + 6 {
        return None;
    }
    let end = scan_until(t, token, |b| !is_token68(b));
    let end = scan_until(t, end, |b| b != b'=');
    (end > token).then(|| {
        out.push((token, end));
        end
    })
}

/// Adds `value_start..value_end`, keeping a leading auth scheme word (`Bearer `, `Basic `).
fn push_value(t: &[u8], value_start: usize, value_end: usize, out: &mut Vec<(usize, usize)>) {
    let mut start = value_start;
    if let Some(rest) = t.get(value_start..value_end) {
        for scheme in AUTH_SCHEMES {
            let n = scheme.len();
            if rest.len() > n
                && rest[..n].eq_ignore_ascii_case(scheme.as_bytes())
                && rest[n] == b' '
            {
                start = scan_until(t, value_start + n, |b| b != b' ');
                break;
            }
        }
    }
    if start < value_end {
        out.push((start, value_end));
    }
}

/// The index of the first byte at or after `from` for which `stop` holds, or `t.len()`.
fn scan_until(t: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    t.get(from..)
        .and_then(|rest| rest.iter().position(|&b| stop(b)))
        .map_or(t.len().max(from), |p| from + p)
}

/// The index of the quote `q` closing a string that starts at `from` (backslash escapes
/// skipped), or the end of the text when it is never closed.
fn closing_quote(t: &[u8], from: usize, q: u8) -> usize {
    let mut i = from;
    while let Some(&b) = t.get(i) {
        if b == b'\\' {
            i += 2;
        } else if b == q {
            return i;
        } else {
            i += 1;
        }
    }
    t.len()
}

// === the logger ===

/// A `log::Log` that redacts every record's message with a [`Redactor`] before handing it to
/// the real logger. Installed once by [`install`], so it sees every crate's records.
///
/// reqwest 0.12 logs through `log`, so its lines (which include full URLs) pass through
/// here. hyper, hyper-util and h2 emit `tracing` events instead; those reach `log` only when
/// the `tracing` crate's `log` feature is enabled (it is not in this workspace's lock file)
/// and no tracing subscriber is installed, so today they are dropped, and if that feature is
/// ever turned on, they arrive here as ordinary `log` records and are redacted too. Whoever
/// adds a tracing subscriber must put the same [`Redactor`] in its formatter.
pub struct RedactingLogger {
    inner: Box<dyn log::Log>,
    redactor: &'static Redactor,
}

impl RedactingLogger {
    /// Redacts with [`Redactor::global`].
    pub fn new(inner: Box<dyn log::Log>) -> RedactingLogger {
        RedactingLogger::with_redactor(inner, Redactor::global())
    }

    /// Redacts with `redactor` (tests use their own, to stay independent of each other).
    pub fn with_redactor(inner: Box<dyn log::Log>, redactor: &'static Redactor) -> RedactingLogger {
        RedactingLogger { inner, redactor }
    }
}

impl log::Log for RedactingLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        // Don't format what the inner logger would filter out anyway.
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        let formatted;
        let message = match record.args().as_str() {
            Some(literal) => literal,
            None => {
                formatted = record.args().to_string();
                formatted.as_str()
            }
        };
        let redacted = self.redactor.redact(message);
        self.inner.log(
            &log::Record::builder()
                .args(format_args!("{redacted}"))
                .level(record.level())
                .target(record.target())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build(),
        );
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs `inner` behind a [`RedactingLogger`] (using [`Redactor::global`]) as the
/// process's logger, and sets the max level. Fails if a logger is already installed; call it
/// once, first thing in `main`, so no record is ever written unredacted.
pub fn install(
    inner: Box<dyn log::Log>,
    max_level: log::LevelFilter,
) -> Result<(), log::SetLoggerError> {
    // `set_logger` with a leaked box rather than `set_boxed_logger`, which needs `log`'s
    // `std` feature; the logger lives for the whole process either way.
    log::set_logger(Box::leak(Box::new(RedactingLogger::new(inner))))?;
    log::set_max_level(max_level);
    Ok(())
}

/// The redacted text of an error, for errors that reach a client or the UI.
pub fn redact_error(e: &dyn fmt::Display) -> String {
    Redactor::global().redact(&e.to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn sensitive(s: &str) -> Sensitive<String> {
        Sensitive::new(s.to_string())
    }

    fn with_secrets(secrets: &[&str]) -> Redactor {
        let r = Redactor::new();
        for s in secrets {
            r.register_secret(&sensitive(s));
        }
        r
    }

    #[track_caller]
    fn assert_redacts(r: &Redactor, input: &str, expected: &str) {
        let out = r.redact(input);
        assert_eq!(out, expected, "input: {input}");
        assert!(matches!(out, Cow::Owned(_)));
    }

    #[track_caller]
    fn assert_untouched(r: &Redactor, input: &str) {
        let out = r.redact(input);
        assert!(
            matches!(out, Cow::Borrowed(s) if s == input),
            "changed: {input} -> {out}"
        );
    }

    // --- exact values ---

    #[test]
    fn exact_value_anywhere() {
        let r = with_secrets(&["tvly-abc123XYZ"]);
        assert_redacts(
            &r,
            "prefixtvly-abc123XYZsuffix and again tvly-abc123XYZ",
            "prefix[REDACTED]suffix and again [REDACTED]",
        );
        assert_redacts(
            &r,
            "https://h/p/tvly-abc123XYZ/x",
            "https://h/p/[REDACTED]/x",
        );
    }

    #[test]
    fn an_encoded_secret_right_after_a_cut_short_escape_is_caught() {
        // `%4` + `1ab%20cd` decodes as `Aab cd`: the escape eats the secret's first digit.
        let r = with_secrets(&["1ab cd", "41xyz-secret"]);
        for text in [
            "v=%41ab%20cd end",
            "v=%4%31ab%20cd end",
            "v=%41xyz-secret end",
            "v=%%41xyz%2Dsecret end",
        ] {
            let out = r.redact(text);
            assert!(
                !out.contains("ab%20cd")
                    && !out.contains("xyz-secret")
                    && !out.contains("xyz%2Dsecret"),
                "{text} -> {out}"
            );
            assert!(
                out.starts_with("v=") && out.ends_with(" end"),
                "{text} -> {out}"
            );
        }
        // An escape that merely precedes other text is left alone.
        assert_eq!(r.redact("v=%41bc%20cd"), "v=%41bc%20cd");
    }

    #[test]
    fn percent_encoded_value_any_case_and_mixed() {
        let r = with_secrets(&["a/b+c=d e"]);
        for form in [
            "a%2Fb%2Bc%3Dd%20e",
            "a%2fb%2bc%3dd%20e",
            "a/b%2Bc=d%20e",
            "a%2Fb%2Bc%3Dd+e",
            "a%252Fb%252Bc%253Dd%2520e",
        ] {
            let input = format!("x={form} y");
            let out = r.redact(&input);
            assert_eq!(out, "x=[REDACTED] y", "form {form}");
        }
    }

    #[test]
    fn escaped_and_base64_forms() {
        let r = with_secrets(&["p\"ss\\word-1234"]);
        assert_redacts(&r, r#"{"v":"p\"ss\\word-1234"}"#, r#"{"v":"[REDACTED]"}"#);
        let r = with_secrets(&["hunter2-hunter2"]);
        for user in ["", "a", "ab", "abc", "alice"] {
            let b64 =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:hunter2-hunter2"));
            let out = r.redact(&format!("creds {b64} end")).into_owned();
            assert!(!out.contains(&b64), "{out}");
            assert!(out.contains(REDACTED));
        }
    }

    #[test]
    fn short_values_ignored_and_forget_is_counted() {
        let r = with_secrets(&["abc"]);
        assert_untouched(&r, "abc abc");
        let s = sensitive("secret-value");
        r.register_secret(&s);
        r.register_secret(&s);
        r.forget_secret(&s);
        assert_redacts(&r, "x secret-value", "x [REDACTED]");
        r.forget_secret(&s);
        assert_untouched(&r, "x secret-value");
        r.forget_secret(&s); // unknown by now: ignored
    }

    // --- URL parameters ---

    #[test]
    fn configured_param_name_in_query_and_fragment() {
        let r = Redactor::new();
        r.register_param_name("tavilyApiKey");
        assert_redacts(
            &r,
            "GET https://mcp.tavily.com/mcp/?TAVILYAPIKEY=tvly-1&q=x",
            "GET https://mcp.tavily.com/mcp/?TAVILYAPIKEY=[REDACTED]&q=x",
        );
        r.register_param_name("zz");
        assert_redacts(&r, "https://h/#a=1&ZZ=v", "https://h/#a=1&ZZ=[REDACTED]");
        r.forget_param_name("zz");
        assert_untouched(&r, "https://h/#a=1&ZZ=v");
    }

    #[test]
    fn every_sensitive_part_case_insensitively() {
        let r = Redactor::new();
        for part in SENSITIVE_PARAM_PARTS {
            for name in [
                part.to_string(),
                part.to_uppercase(),
                format!("x_{}_Id", part.to_uppercase()),
            ] {
                let input = format!("https://h/p?a=1&{name}=v4lue&b=2");
                let expected = format!("https://h/p?a=1&{name}=[REDACTED]&b=2");
                assert_redacts(&r, &input, &expected);
            }
        }
    }

    #[test]
    fn userinfo_with_and_without_password() {
        let r = Redactor::new();
        assert_redacts(
            &r,
            "https://user:pa%40ss@h.io/x",
            "https://[REDACTED]@h.io/x",
        );
        assert_redacts(
            &r,
            "https://ghp_token@github.com",
            "https://[REDACTED]@github.com",
        );
        assert_redacts(
            &r,
            "redis://:pw@localhost:6379",
            "redis://[REDACTED]@localhost:6379",
        );
        // An unencoded '@' in the password: the last '@' of the authority counts.
        assert_redacts(&r, "http://u:p@ss@h/", "http://[REDACTED]@h/");
        // An '@' after the authority is not userinfo.
        assert_untouched(&r, "https://h.io/a@b?email=a@b.c");
    }

    #[test]
    fn ws_and_wss_urls_and_uppercase_schemes() {
        let r = Redactor::new();
        assert_redacts(
            &r,
            "ws://u:p@h/socket?auth=x1",
            "ws://[REDACTED]@h/socket?auth=[REDACTED]",
        );
        assert_redacts(&r, "WSS://h/s?Token=x1", "WSS://h/s?Token=[REDACTED]");
        assert_redacts(&r, "HTTPS://T@h/", "HTTPS://[REDACTED]@h/");
    }

    #[test]
    fn several_urls_the_same_param_twice_and_params_without_value() {
        let r = Redactor::new();
        assert_redacts(
            &r,
            "a https://x/?key=1&key=2 b wss://y/?sig=3#access_token=4&state=5",
            "a https://x/?key=[REDACTED]&key=[REDACTED] b wss://y/?sig=[REDACTED]#access_token=[REDACTED]&state=5",
        );
        assert_untouched(&r, "https://x/?token&key=&flag#secret");
        assert_redacts(
            &r,
            "https://x/?token&key=&apikey=1",
            "https://x/?token&key=&apikey=[REDACTED]",
        );
    }

    #[test]
    fn fragments_scheme_less_queries_and_nested_urls() {
        let r = Redactor::new();
        assert_redacts(
            &r,
            "GET /mcp?apiKey=abc HTTP/1.1",
            "GET /mcp?apiKey=[REDACTED] HTTP/1.1",
        );
        assert_redacts(
            &r,
            "https://app/#/callback?code=xyz&state=1",
            "https://app/#/callback?code=[REDACTED]&state=1",
        );
        // A URL percent-encoded inside another URL's parameter.
        assert_redacts(
            &r,
            "https://a/?next=https%3A%2F%2Fb%2F%3Ftoken%3Dxyz%26q%3D1",
            "https://a/?next=https%3A%2F%2Fb%2F%3Ftoken%3D[REDACTED]%26q%3D1",
        );
        // A percent-encoded parameter name.
        assert_redacts(
            &r,
            "https://a/?api%5Fkey=v",
            "https://a/?api%5Fkey=[REDACTED]",
        );
        // A value with ';' and '?' is redacted up to the next '&'.
        assert_redacts(&r, "?token=a;b?c&x=1", "?token=[REDACTED]&x=1");
    }

    #[test]
    fn non_sensitive_params_untouched_byte_for_byte() {
        let r = Redactor::new();
        for s in [
            "https://h.io/p?q=a%20b&Page=2&sort=-name&empty=&flag#top",
            "wss://h/s?x=%E2%82%AC&y=%zz&z=100%",
            "http://[::1]:8080/mcp?session_count_x",
            "plain text with no url at all, exit code=1, 12:30:45",
            "status code: 500; \"code\": -32600, \"passthrough\": true",
            "Access-Control-Allow-Origin: *",
            "the keychain refused to read secret 'tavily-key': locked",
        ] {
            assert_untouched(&r, s);
        }
    }

    // --- headers ---

    #[test]
    fn header_looking_text() {
        let r = Redactor::new();
        assert_redacts(
            &r,
            "Authorization: Bearer abc.def-ghi",
            "Authorization: Bearer [REDACTED]",
        );
        assert_redacts(
            &r,
            "sent authorization: Basic dXNlcjpwYXNz",
            "sent authorization: Basic [REDACTED]",
        );
        assert_redacts(
            &r,
            "X-API-Key: k123\nAccept: */*",
            "X-API-Key: [REDACTED]\nAccept: */*",
        );
        assert_redacts(
            &r,
            r#"headers: {"authorization": "Bearer abc", "accept": "*/*"}"#,
            r#"headers: {"authorization": "Bearer [REDACTED]", "accept": "*/*"}"#,
        );
        assert_redacts(
            &r,
            r#"Config { api_key: "k\"1", url: "u" }"#,
            r#"Config { api_key: "[REDACTED]", url: "u" }"#,
        );
        assert_redacts(
            &r,
            "{'client_secret': 'abc'}",
            "{'client_secret': '[REDACTED]'}",
        );
        assert_redacts(
            &r,
            "token expired; Bearer eyJ0eXAi== sent",
            "token expired; Bearer [REDACTED] sent",
        );
        assert_redacts(
            &r,
            "env API_KEY=sk-1 PATH=/bin",
            "env API_KEY=[REDACTED] PATH=/bin",
        );
        assert_redacts(
            &r,
            "npx srv --api-key=sk-1 --port 3",
            "npx srv --api-key=[REDACTED] --port 3",
        );
        assert_redacts(
            &r,
            "grant_type=x&client_secret=y",
            "grant_type=x&client_secret=[REDACTED]",
        );
    }

    #[test]
    fn never_panics_on_awkward_input() {
        let r = with_secrets(&["s3cr3t-€-value"]);
        r.register_param_name("é");
        for s in [
            "%",
            "%2",
            "%zz",
            "?",
            "&",
            "#=",
            ":",
            "://",
            "://@",
            "a://b@",
            "bearer",
            "Bearer ",
            "é?é=€",
            "€%E2%82",
            "%E2%82%AC%",
            "key:",
            "\"key\":",
            "\"key\": \"",
            "x=\"",
            "?token=€&",
            "https://é:€@ü/?sig=😀#key=\u{0}",
            "token=",
            "\n:\n",
            "'':''",
            "s3cr3t-%E2%82%AC-value",
            "s3cr3t-%E2%82€-value",
        ] {
            let _ = r.redact(s);
        }
        assert_eq!(r.redact("a s3cr3t-%E2%82%AC-value b"), "a [REDACTED] b");
        let huge = "https://h/?token=".to_string() + &"a%".repeat(200_000) + " x";
        assert_eq!(r.redact(&huge), "https://h/?token=[REDACTED] x");
        let hostile = "?token=".repeat(50_000);
        assert!(!r.redact(&hostile).contains("token=?"));
    }

    #[test]
    fn redact_error_uses_the_global_redactor() {
        Redactor::global().register_secret(&sensitive("global-test-secret-9f3a"));
        let e = std::io::Error::other("failed for https://h/?x=global-test-secret-9f3a");
        assert_eq!(redact_error(&e), "failed for https://h/?x=[REDACTED]");
        assert!(format!("{:?}", Redactor::global()).contains("secrets"));
        assert!(!format!("{:?}", Redactor::global()).contains("global-test-secret"));
    }

    // --- the logger ---

    /// Level, target, message, line.
    type Line = (log::Level, String, String, Option<u32>);

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Line>>>);

    impl log::Log for Capture {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Debug
        }
        fn log(&self, record: &log::Record<'_>) {
            self.0.lock().unwrap().push((
                record.level(),
                record.target().to_string(),
                record.args().to_string(),
                record.line(),
            ));
        }
        fn flush(&self) {}
    }

    #[test]
    fn logger_redacts_and_keeps_metadata() {
        let redactor: &'static Redactor = Box::leak(Box::new(with_secrets(&["tvly-LOGSECRET"])));
        let capture = Capture::default();
        let logger = RedactingLogger::with_redactor(Box::new(capture.clone()), redactor);
        let url = "https://mcp.tavily.com/mcp/?tavilyApiKey=tvly-LOGSECRET";
        log::Log::log(
            &logger,
            &log::Record::builder()
                .args(format_args!(
                    "reqwest::connect: starting new connection: {url}"
                ))
                .level(log::Level::Debug)
                .target("reqwest::connect")
                .module_path(Some("reqwest::connect"))
                .file(Some("connect.rs"))
                .line(Some(42))
                .build(),
        );
        // A literal message (no arguments) takes the no-allocation path.
        log::Log::log(
            &logger,
            &log::Record::builder()
                .args(format_args!("Authorization: Bearer abc"))
                .level(log::Level::Info)
                .target("t")
                .build(),
        );
        // Filtered out by the inner logger: never formatted, never forwarded.
        log::Log::log(
            &logger,
            &log::Record::builder()
                .args(format_args!("{url}"))
                .level(log::Level::Trace)
                .target("t")
                .build(),
        );
        let lines = capture.0.lock().unwrap().clone();
        assert_eq!(
            lines,
            vec![
                (
                    log::Level::Debug,
                    "reqwest::connect".to_string(),
                    "reqwest::connect: starting new connection: https://mcp.tavily.com/mcp/?tavilyApiKey=[REDACTED]".to_string(),
                    Some(42),
                ),
                (
                    log::Level::Info,
                    "t".to_string(),
                    "Authorization: Bearer [REDACTED]".to_string(),
                    None,
                ),
            ]
        );
        assert!(log::Log::enabled(
            &logger,
            &log::Metadata::builder().level(log::Level::Debug).build()
        ));
        assert!(!log::Log::enabled(
            &logger,
            &log::Metadata::builder().level(log::Level::Trace).build()
        ));
        log::Log::flush(&logger);
    }

    // --- properties ---

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// RFC 3986: everything but unreserved characters as %XX (upper or lower hex).
        fn pct(s: &str, lower: bool) -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else if lower {
                        format!("%{b:02x}")
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }

        /// application/x-www-form-urlencoded, as `url`'s query serializer writes it.
        fn form(s: &str) -> String {
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
        }

        fn encode(s: &str, how: u8) -> String {
            match how % 3 {
                0 => form(s),
                1 => pct(s, false),
                _ => pct(s, true),
            }
        }

        #[track_caller]
        fn assert_hidden(out: &str, secret: &str) -> Result<(), TestCaseError> {
            for form in [
                secret.to_string(),
                form(secret),
                pct(secret, false),
                pct(secret, true),
            ] {
                prop_assert!(!out.contains(&form), "{form:?} in {out:?}");
            }
            Ok(())
        }

        fn secret() -> impl Strategy<Value = String> {
            "[A-Za-z0-9._~+/=!$&'()*,;:@?#% \\-\\[\\]é€😀]{8,64}"
                .prop_filter("not part of the marker", |s| !REDACTED.contains(s.as_str()))
        }

        fn scheme() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("http"),
                Just("https"),
                Just("ws"),
                Just("wss"),
                Just("HTTPS"),
                Just("Wss")
            ]
            .prop_map(str::to_string)
        }

        fn host() -> impl Strategy<Value = String> {
            "[a-z0-9][a-z0-9-]{0,10}(\\.[a-z]{2,6}){0,2}(:[0-9]{1,5})?"
        }

        fn path() -> impl Strategy<Value = String> {
            "(/[A-Za-z0-9._~%-]{0,8}){0,3}"
        }

        /// Parameters that are sensitive by neither name nor value.
        fn other_params() -> impl Strategy<Value = Vec<(String, String)>> {
            proptest::collection::vec(("[a-z]{1,3}", "[A-Za-z0-9 ./-]{0,8}"), 0..3)
        }

        fn sensitive_name() -> impl Strategy<Value = String> {
            (
                "[a-z_]{0,4}",
                proptest::sample::select(SENSITIVE_PARAM_PARTS),
                "[A-Za-z_]{0,4}",
                any::<bool>(),
            )
                .prop_map(|(pre, part, post, upper)| {
                    let name = format!("{pre}{part}{post}");
                    if upper { name.to_uppercase() } else { name }
                })
        }

        fn surrounding() -> impl Strategy<Value = String> {
            "[A-Za-z0-9 .,:;()=/\"'\n-]{0,24}"
        }

        fn query(params: &[(String, String)]) -> String {
            params
                .iter()
                .map(|(k, v)| format!("{k}={}", form(v)))
                .collect::<Vec<_>>()
                .join("&")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn secret_under_sensitive_name_in_query_or_fragment(
                secret in secret(),
                scheme in scheme(),
                host in host(),
                path in path(),
                name in sensitive_name(),
                before in other_params(),
                after in other_params(),
                in_fragment in any::<bool>(),
                how in any::<u8>(),
                prefix in surrounding(),
                suffix in surrounding(),
            ) {
                let mut params = before.clone();
                let value = encode(&secret, how);
                let mut q = query(&params);
                if !q.is_empty() { q.push('&'); }
                q.push_str(&format!("{name}={value}"));
                params = after;
                if !params.is_empty() { q.push('&'); q.push_str(&query(&params)); }
                let url = if in_fragment {
                    format!("{scheme}://{host}{path}#{q}")
                } else {
                    format!("{scheme}://{host}{path}?{q}#frag")
                };
                let text = format!("{prefix} {url} {suffix}");
                let r = Redactor::new();
                let out = r.redact(&text);
                assert_hidden(&out, &secret)?;
            }

            #[test]
            fn registered_secret_anywhere_in_any_encoding(
                secret in secret(),
                scheme in scheme(),
                host in host(),
                path in path(),
                name in "[A-Za-z]{1,6}",
                place in 0u8..4,
                how in 0u8..4,
                prefix in surrounding(),
                suffix in surrounding(),
            ) {
                let value = if how == 3 { secret.clone() } else { encode(&secret, how) };
                let text = match place {
                    0 => format!("{prefix}{scheme}://{host}{path}?{name}={value}{suffix}"),
                    1 => format!("{prefix}{scheme}://{host}{path}#{name}={value}{suffix}"),
                    2 => format!("{prefix}{scheme}://{host}/{value}/x{suffix}"),
                    _ => format!("{prefix}{value}{suffix}"),
                };
                let r = with_secrets(&[&secret]);
                let out = r.redact(&text);
                assert_hidden(&out, &secret)?;
            }

            #[test]
            fn registered_param_name(
                secret in secret(),
                scheme in scheme(),
                host in host(),
                name in "[A-Za-z][A-Za-z0-9_]{2,12}",
                in_fragment in any::<bool>(),
                how in any::<u8>(),
                flip in any::<bool>(),
            ) {
                let r = Redactor::new();
                r.register_param_name(&name);
                let shown = if flip { name.to_uppercase() } else { name.to_lowercase() };
                let sep = if in_fragment { '#' } else { '?' };
                let text = format!("{scheme}://{host}/p{sep}x=1&{shown}={}&y=2", encode(&secret, how));
                let out = r.redact(&text);
                assert_hidden(&out, &secret)?;
            }

            #[test]
            fn secret_as_userinfo(
                secret in secret(),
                scheme in scheme(),
                host in host(),
                user in proptest::option::of("[A-Za-z0-9._-]{1,8}"),
                path in path(),
                prefix in surrounding(),
            ) {
                let userinfo = match &user {
                    Some(u) => format!("{u}:{}", pct(&secret, false)),
                    None => pct(&secret, false),
                };
                let text = format!("{prefix} {scheme}://{userinfo}@{host}{path}?a=1 end");
                let out = Redactor::new().redact(&text);
                assert_hidden(&out, &secret)?;
            }

            #[test]
            fn registered_secret_in_basic_credentials(
                secret in secret(),
                user in "[A-Za-z0-9._-]{0,8}",
                label in "[A-Za-z ]{0,12}",
            ) {
                let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
                let r = with_secrets(&[&secret]);
                let out = r.redact(&format!("{label} {b64} end")).into_owned();
                prop_assert!(!out.contains(&b64), "{b64} in {out}");
                assert_hidden(&out, &secret)?;
            }

            #[test]
            fn never_panics_and_borrowed_means_unchanged(
                text in "[a-zA-Z0-9:/?&#;=%@\"' \n\\\\.,{}é😀-]{0,120}",
                any_text in any::<String>(),
            ) {
                let r = with_secrets(&["k3y-value", "é€😀x"]);
                r.register_param_name("q");
                for t in [&text, &any_text] {
                    if let Cow::Borrowed(b) = r.redact(t) {
                        prop_assert_eq!(b, t.as_str());
                    }
                }
            }
        }
    }
}
