//! `config::Config`: the loader never panics, reports where a syntax or type error is, and
//! round-trips every valid config.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::{Map, Value};
use switchboard_core::Error;
use switchboard_core::config::{
    Config, Limits, NameFilter, Profile, ProfileServer, ProxySettings, RemoteTransport, SecretName,
    ServerConfig, Sharing, UpstreamAuth, ValueSource,
};

use crate::json::{json_value, mutate, mutation};

const PATH: &str = "/cfg/config.json";

fn index_map<V: std::fmt::Debug>(
    key: impl Strategy<Value = String>,
    value: impl Strategy<Value = V>,
    max: usize,
) -> impl Strategy<Value = IndexMap<String, V>> {
    prop::collection::vec((key, value), 0..max).prop_map(|pairs| pairs.into_iter().collect())
}

/// JSON values without floats (serde_json's default float parsing is not exact, and a
/// config has none of its own), for the keys Switchboard does not know.
fn extra_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,6}", inner), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn extras(prefix: &'static str) -> impl Strategy<Value = Map<String, Value>> {
    let key = proptest::string::string_regex(&format!("{prefix}[a-zA-Z0-9_-]{{0,6}}"))
        .expect("a valid regex");
    prop::collection::vec((key, extra_value()), 0..3).prop_map(|pairs| pairs.into_iter().collect())
}

fn secret_name() -> impl Strategy<Value = SecretName> {
    "[A-Za-z0-9_.-]{1,20}".prop_map(|n| SecretName::new(&n).expect("valid name"))
}

fn value_source() -> impl Strategy<Value = ValueSource> {
    prop_oneof![
        any::<String>().prop_map(ValueSource::Literal),
        secret_name().prop_map(ValueSource::secret),
    ]
}

fn auth() -> impl Strategy<Value = UpstreamAuth> {
    prop_oneof![
        Just(UpstreamAuth::None),
        secret_name().prop_map(|secret| UpstreamAuth::Bearer { secret }),
        index_map("[A-Za-z-]{1,12}", value_source(), 3)
            .prop_map(|headers| UpstreamAuth::Headers { headers }),
        (any::<String>(), secret_name())
            .prop_map(|(username, secret)| UpstreamAuth::Basic { username, secret }),
        ("[A-Za-z_][A-Za-z0-9_-]{0,12}", secret_name())
            .prop_map(|(param, secret)| UpstreamAuth::Query { param, secret }),
    ]
}

fn remote_url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["https", "http"]),
        "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,4}){1,2}|localhost|127\\.0\\.0\\.1",
        proptest::option::of(1u16..),
        "(/[a-z0-9._~-]{0,6}){0,3}",
        proptest::option::of("v=[0-9]{1,3}(&lang=[a-z]{2})?"),
    )
        .prop_map(|(scheme, host, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{path}{query}")
        })
}

fn server() -> impl Strategy<Value = ServerConfig> {
    let local = (
        "[A-Za-z0-9/_.-]{1,16}",
        prop::collection::vec(any::<String>(), 0..4),
        index_map("[A-Za-z_][A-Za-z0-9_]{0,10}", value_source(), 3),
        proptest::option::of("/[a-z0-9/ ._-]{0,16}".prop_map(PathBuf::from)),
    )
        .prop_map(|(command, args, env, cwd)| {
            let mut server = ServerConfig::stdio(command, args);
            server.env = env;
            server.cwd = cwd;
            server
        });
    let remote = (
        remote_url(),
        prop::sample::select(vec![
            RemoteTransport::Auto,
            RemoteTransport::StreamableHttp,
            RemoteTransport::Sse,
        ]),
        index_map("[A-Za-z-]{1,12}", value_source(), 3),
    )
        .prop_map(|(url, transport, headers)| {
            let mut server = ServerConfig::remote(url);
            server.transport = transport;
            server.headers = headers;
            server
        });
    (
        prop_oneof![local, remote],
        auth(),
        any::<bool>(),
        prop::sample::select(vec![Sharing::PerSession, Sharing::Shared]),
        extras("x-"),
        (prefix(), name_filter(), name_filter()),
    )
        .prop_map(
            |(mut server, auth, enabled, sharing, extra, (prefix, tools, prompts))| {
                server.auth = auth;
                server.enabled = enabled;
                server.sharing = sharing;
                server.extra = extra;
                server.prefix = prefix;
                server.tools = tools;
                server.prompts = prompts;
                server
            },
        )
}

fn prefix() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[A-Za-z0-9_-]{0,32}")
}

fn name_filter() -> impl Strategy<Value = NameFilter> {
    (
        prop::collection::vec("[a-z_*?]{1,12}", 0..3),
        prop::collection::vec("[a-z_*?]{1,12}", 0..3),
    )
        .prop_map(|(allow, deny)| NameFilter { allow, deny })
}

fn profile() -> impl Strategy<Value = Profile> {
    let server = (prefix(), name_filter(), name_filter(), extras("x-")).prop_map(
        |(prefix, tools, prompts, extra)| ProfileServer {
            prefix,
            tools,
            prompts,
            extra,
        },
    );
    (
        index_map("[A-Za-z0-9_.-]{1,20}", server, 3),
        any::<bool>(),
        extras("x-"),
    )
        .prop_map(|(servers, own_key, extra)| Profile {
            servers,
            own_key,
            extra,
        })
}

fn origin() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://[a-z]{1,8}\\.(com|dev)(:[1-9][0-9]{1,3})?",
        "http://(localhost|127\\.0\\.0\\.1)(:[1-9][0-9]{1,3})?",
    ]
}

fn proxy() -> impl Strategy<Value = ProxySettings> {
    let limits = prop_oneof![
        Just(Limits::default()),
        (
            (1usize.., 1u64.., 1usize.., 1usize.., 1usize.., 1usize..),
            (
                1usize..,
                1usize..,
                1usize..,
                1usize..,
                1usize..,
                1usize..,
                1usize..
            ),
        )
            .prop_map(
                |((c, h, sps, s, ch, b), (q, ka, kab, bm, bb, ll, lb))| Limits {
                    max_connections: c,
                    header_read_timeout_secs: h,
                    max_sessions_per_server: sps,
                    max_sessions: s,
                    max_children: ch,
                    max_buffered_body_bytes: b,
                    max_stream_queue_bytes: q,
                    max_kept_answers: ka,
                    max_kept_answer_bytes: kab,
                    max_backlog_messages: bm,
                    max_backlog_bytes: bb,
                    max_log_lines: ll,
                    max_log_line_bytes: lb,
                }
            ),
    ];
    (
        proptest::option::of(1u16..),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        prop::collection::vec(origin(), 0..3),
        any::<bool>(),
        prop::collection::vec(origin(), 0..3),
        limits,
        extras("x-"),
        index_map("[A-Za-z0-9_-]{1,20}", profile(), 3),
    )
        .prop_map(
            |(port, key, idle, allowed, query, query_origins, limits, extra, profiles)| {
                ProxySettings {
                    port,
                    require_api_key: key,
                    idle_timeout_secs: idle,
                    spare_idle_secs: idle.map(|i| i / 2),
                    allowed_origins: allowed,
                    allow_query_param_auth: query,
                    query_param_auth_origins: query_origins,
                    limits,
                    profiles,
                    extra,
                }
            },
        )
}

fn config() -> impl Strategy<Value = Config> {
    (
        index_map("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,20}", server(), 4),
        prop_oneof![Just(ProxySettings::default()), proxy()],
        extras("(x-|theme)"),
    )
        .prop_map(|(servers, proxy, extra)| Config {
            servers,
            proxy,
            extra,
        })
}

/// What every loader error must be: a syntax or type error placed inside the text, or a
/// validation error (those name a field, not a position).
fn check_error(text: &str, err: &Error) -> Result<(), TestCaseError> {
    match err {
        Error::ConfigSyntax {
            path,
            line,
            column,
            message,
        } => {
            prop_assert_eq!(path, Path::new(PATH));
            let lines: Vec<&str> = text.split('\n').collect();
            prop_assert!(
                (1..=lines.len()).contains(line),
                "line {} of {}",
                line,
                lines.len()
            );
            let width = lines[line - 1].len();
            prop_assert!(*column <= width + 1, "column {column} of {width}");
            prop_assert!(!message.is_empty() && !message.contains(" at line "));
            let shown = err.to_string();
            let prefix = format!("{PATH}:{line}:{column}: ");
            prop_assert!(shown.starts_with(&prefix), "{}", shown);
        }
        Error::ConfigInvalid { path, message } => {
            prop_assert_eq!(path, Path::new(PATH));
            prop_assert!(!message.is_empty());
            prop_assert!(
                serde_json::from_str::<Value>(text).is_ok(),
                "a validation error for text that is not JSON"
            );
        }
        other => prop_assert!(false, "unexpected error {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::cases(256))]

    /// A generated valid config survives serialize → parse unchanged, and serializing the
    /// result again gives the same text; `load` from a file reads the same.
    #[test]
    fn valid_configs_round_trip(config in config(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&config)
        } else {
            serde_json::to_string(&config)
        }
        .expect("serializable");
        let parsed = Config::parse(&text, Path::new(PATH));
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return Err(TestCaseError::fail(format!("{e} in {text}"))),
        };
        prop_assert_eq!(&parsed, &config);
        let again = if pretty {
            serde_json::to_string_pretty(&parsed)
        } else {
            serde_json::to_string(&parsed)
        }
        .expect("serializable");
        prop_assert_eq!(&again, &text);

        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("config.json");
        std::fs::write(&file, &text).expect("write");
        prop_assert_eq!(Config::load(&file).expect("loads"), config);
    }

    /// Never panics on a corrupted config or on any text; text that is not JSON is a
    /// syntax error, and every syntax or type error has a line and column inside the text.
    #[test]
    fn any_text_parses_or_says_where(
        text in prop_oneof![
            3 => (config(), prop::collection::vec(mutation(), 1..3)).prop_map(|(c, hows)| {
                let mut bytes = serde_json::to_vec_pretty(&c).expect("serializable");
                for how in hows {
                    bytes = mutate(bytes, how);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }),
            1 => any::<String>(),
            1 => json_value(),
        ],
    ) {
        match Config::parse(&text, Path::new(PATH)) {
            Ok(config) => {
                prop_assert!(serde_json::from_str::<Value>(&text).is_ok());
                prop_assert!(config.check(Path::new(PATH)).is_ok());
            }
            Err(err) => {
                if serde_json::from_str::<Value>(&text).is_err() {
                    prop_assert!(matches!(err, Error::ConfigSyntax { .. }), "{err:?}");
                }
                check_error(&text, &err)?;
            }
        }
    }
}
