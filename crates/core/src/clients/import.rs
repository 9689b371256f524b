//! From servers found in clients' files to Switchboard servers: names that fit, conflicts
//! said, and every secret value out of the config (into the keychain, referenced by name).

use serde::Serialize;

use super::ClientFile;
use super::read::{Found, Target, ValueClass};
use crate::config::{Config, ServerConfig, is_valid_server_name};
use crate::secrets::{SecretName, Sensitive, ValueSource};

/// One found server as it would be imported.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub from: ClientFile,
    pub found: Found,
    /// Its name in Switchboard: the client's, made valid and unique.
    pub name: String,
    /// Why the name changed, or why it is not imported (already there).
    pub conflict: Option<String>,
    /// Whether importing it adds something (false: skipped, or the same server is there).
    pub importable: bool,
    /// The values that go to the keychain, and those Switchboard will ask for.
    pub secrets: Vec<MovedValue>,
}

/// A value that does not go into the config.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MovedValue {
    /// `env GITHUB_TOKEN` or `header Authorization`.
    pub of: String,
    /// The keychain item it goes to.
    pub secret: SecretName,
    /// The client fills it in itself (`${input:…}`, `${env:…}`): nothing to move, so the
    /// person is asked for it (the server does not start until it is set).
    pub needs_value: bool,
    /// What the client's file says instead, for a value the person must give.
    pub placeholder: Option<String>,
}

/// A server ready to save, with the values to store first.
pub struct Imported {
    pub name: String,
    pub server: ServerConfig,
    /// Keychain items to write (values moved out of the client's file).
    pub store: Vec<(SecretName, Sensitive<String>)>,
}

/// What importing every server of `files` into `config` would do, in file order.
pub fn plan(config: &Config, files: &[(ClientFile, Vec<Found>)]) -> Vec<Candidate> {
    let mut taken: Vec<String> = config.servers.keys().cloned().collect();
    let mut candidates = Vec::new();
    for (file, found) in files {
        for found in found {
            let base = valid_name(&found.name);
            let mut conflict = None;
            let mut importable = found.skip.is_none();
            let mut name = base.clone();
            if importable {
                let would = build(&base, found).server;
                if let Some((existing, _)) =
                    config.servers.iter().find(|(_, s)| same_server(s, &would))
                {
                    importable = false;
                    name = existing.clone();
                    conflict = Some(format!("already in Switchboard as '{existing}'"));
                } else if taken.contains(&base) {
                    name = unique(&format!("{base}-{}", file.client.id()), &taken);
                    conflict = Some(format!(
                        "a server named '{base}' exists already; imported as '{name}'"
                    ));
                } else if base != found.name {
                    conflict = Some(format!(
                        "'{}' is not a valid name; imported as '{name}'",
                        found.name
                    ));
                }
            }
            if importable {
                taken.push(name.clone());
            }
            let secrets = build(&name, found).moved;
            candidates.push(Candidate {
                from: file.clone(),
                found: found.clone(),
                name,
                conflict,
                importable,
                secrets,
            });
        }
    }
    candidates
}

/// The names of `file`'s entries whose server Switchboard already carries (what "turn off
/// the client's own entries" turns off).
pub fn already_carried(config: &Config, file: &ClientFile, found: Vec<Found>) -> Vec<String> {
    // Only the file's top-level entries: Claude Code's per-project ones in `~/.claude.json`
    // live elsewhere in the file and may share a name with a top-level one.
    let top_level: Vec<Found> = found.into_iter().filter(|f| f.project.is_none()).collect();
    plan(config, &[(file.clone(), top_level)])
        .into_iter()
        .filter(|c| c.found.skip.is_none() && !c.importable)
        .map(|c| c.found.name)
        .collect()
}

/// The server `candidate` becomes, and the values to store in the keychain first.
pub fn imported(candidate: &Candidate) -> Imported {
    let built = build(&candidate.name, &candidate.found);
    Imported {
        name: candidate.name.clone(),
        server: built.server,
        store: built.store,
    }
}

struct Built {
    server: ServerConfig,
    moved: Vec<MovedValue>,
    store: Vec<(SecretName, Sensitive<String>)>,
}

fn build(name: &str, found: &Found) -> Built {
    let mut server = match &found.target {
        Target::Stdio { command, args, cwd } => {
            let mut server = ServerConfig::stdio(command.clone(), args.clone());
            server.cwd = cwd.as_ref().map(Into::into);
            server
        }
        Target::Remote { url, transport } => {
            let mut server = ServerConfig::remote(url.clone());
            server.transport = *transport;
            server
        }
        Target::Nothing => ServerConfig::stdio(String::new(), Vec::<String>::new()),
    };
    server.enabled = found.enabled;
    let mut moved = Vec::new();
    let mut store = Vec::new();
    for (what, values) in [("env", &found.env), ("header", &found.headers)] {
        for value in values {
            let source = match value.class {
                ValueClass::Plain => ValueSource::Literal(value.value.expose().clone()),
                ValueClass::Secret | ValueClass::Placeholder => {
                    let secret = SecretName::derived(name, &value.name).unwrap_or_else(|_| {
                        SecretName::derived("imported", &value.name)
                            .expect("a derived name is valid")
                    });
                    let needs_value = value.class == ValueClass::Placeholder;
                    if !needs_value {
                        store.push((secret.clone(), value.value.clone()));
                    }
                    moved.push(MovedValue {
                        of: format!("{what} {}", value.name),
                        secret: secret.clone(),
                        needs_value,
                        placeholder: needs_value.then(|| value.value.expose().clone()),
                    });
                    ValueSource::secret(secret)
                }
            };
            match what {
                "env" => server.env.insert(value.name.clone(), source),
                _ => server.headers.insert(value.name.clone(), source),
            };
        }
    }
    Built {
        server,
        moved,
        store,
    }
}

/// The same program or URL (an import found again is not imported twice).
fn same_server(a: &ServerConfig, b: &ServerConfig) -> bool {
    (a.command.is_some() && a.command == b.command && a.args == b.args)
        || (a.url.is_some() && a.url == b.url)
}

/// `name` made a valid server name: other characters become `-`, cut to 64.
fn valid_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let cleaned = cleaned.trim_matches('-').to_owned();
    if is_valid_server_name(&cleaned) {
        cleaned
    } else {
        "imported".to_owned()
    }
}

fn unique(base: &str, taken: &[String]) -> String {
    let base: String = base.chars().take(60).collect();
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("some suffix is free")
}
