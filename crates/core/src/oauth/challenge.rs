//! The `Bearer` challenge of a `WWW-Authenticate` header (RFC 6750 §3, RFC 9728 §5.1): where
//! the server's protected resource metadata is, which scope it wants, and why it refused.

/// What a server's `Bearer` challenge says. Every field is optional: a bare `Bearer` is a
/// valid challenge, and discovery then falls back to the well-known paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `resource_metadata`: the URL of the protected resource metadata (RFC 9728).
    pub resource_metadata: Option<String>,
    /// `scope`: the scopes this request needs, space separated.
    pub scope: Option<String>,
    /// `error`: `invalid_token`, `insufficient_scope`, …
    pub error: Option<String>,
}

impl Challenge {
    /// The `Bearer` challenge among those in one or more `WWW-Authenticate` values, if any.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
        values.into_iter().find_map(parse_one)
    }

    /// Whether the server refused for want of scope (step-up is possible).
    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// One header value may hold several challenges (`Basic realm="x", Bearer scope="y"`); the
/// Bearer one's parameters run until the next scheme name.
fn parse_one(value: &str) -> Option<Challenge> {
    let mut rest = value;
    let mut challenge: Option<Challenge> = None;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return challenge;
        }
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if let Some(after_eq) = after.strip_prefix('=')
            && !after_eq.starts_with('=')
        {
            // A parameter of the current challenge.
            let (param_value, remaining) = read_value(after_eq.trim_start_matches([' ', '\t']));
            if let Some(current) = challenge.as_mut() {
                let slot = match token.to_ascii_lowercase().as_str() {
                    "resource_metadata" => Some(&mut current.resource_metadata),
                    "scope" => Some(&mut current.scope),
                    "error" => Some(&mut current.error),
                    _ => None,
                };
                if let Some(slot) = slot
                    && slot.is_none()
                {
                    *slot = Some(param_value);
                }
            }
            rest = remaining;
        } else if token.is_empty() {
            // The `==` padding of another scheme's token68 (`Basic abc==`).
            rest = rest.trim_start_matches('=');
        } else {
            // A scheme name (or another scheme's token68) ends the Bearer challenge if it
            // had begun.
            if challenge.is_some() {
                return challenge;
            }
            if token.eq_ignore_ascii_case("bearer") {
                challenge = Some(Challenge::default());
            }
            rest = &rest[token_end..];
        }
    }
}

/// A parameter value, quoted (with `\` escapes) or a bare token; returns it and the rest.
fn read_value(s: &str) -> (String, &str) {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => return (out, &quoted[i + 1..]),
                c => out.push(c),
            }
        }
        (out, "")
    } else {
        let end = s
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(s.len());
        (s[..end].to_owned(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_parameters_quoted_or_not() {
        let c = Challenge::parse([
            r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#,
        ])
        .expect("a challenge");
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
        assert_eq!(c.error, None);

        let c = Challenge::parse([r#"bearer error=insufficient_scope,scope="a\"b""#]).expect("one");
        assert!(c.is_insufficient_scope());
        assert_eq!(c.scope.as_deref(), Some("a\"b"));
    }

    #[test]
    fn finds_bearer_among_other_schemes_and_values() {
        let c = Challenge::parse([r#"Basic realm="x", Bearer scope="y", DPoP algs="ES256""#])
            .expect("bearer");
        assert_eq!(c.scope.as_deref(), Some("y"));
        let c = Challenge::parse([r#"Basic realm="x""#, "Bearer"]).expect("bare bearer");
        assert_eq!(c, Challenge::default());
        assert_eq!(Challenge::parse([r#"Basic realm="x""#]), None);
        let c =
            Challenge::parse([r#"Basic YWxhZGRpbjpvcGVu==, Bearer scope="z""#]).expect("bearer");
        assert_eq!(c.scope.as_deref(), Some("z"));
        assert_eq!(Challenge::parse([""]), None);
    }
}
