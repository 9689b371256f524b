//! `switchboard add`: a local server or a remote gateway, written into the config file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use switchboard_core::config::{
    Config, RemoteTransport, ServerConfig, Sharing, UpstreamAuth, ValueSource, is_valid_server_name,
};
use switchboard_core::secrets::{SecretName, SecretStore};
use switchboard_core::url_policy::query_key as query_auth;

#[derive(clap::Args)]
pub struct AddArgs {
    /// The server's name; it becomes part of its URL (`/servers/<name>/mcp`).
    name: String,
    /// A remote server's MCP endpoint (instead of a command).
    #[arg(long, conflicts_with = "command")]
    url: Option<String>,
    /// How to reach a remote server.
    #[arg(long, value_enum, default_value = "auto", requires = "url")]
    transport: TransportArg,
    /// The credential Switchboard adds to each request to a remote server.
    #[arg(long, value_enum, default_value = "none", requires = "url")]
    auth: AuthKind,
    /// The keychain item holding the credential (bearer token, password, query key).
    #[arg(long, value_name = "SECRET_NAME")]
    secret: Option<String>,
    /// The user name, for `--auth basic`.
    #[arg(long)]
    username: Option<String>,
    /// The query parameter that carries the key, for `--auth query`.
    #[arg(long, value_name = "NAME")]
    param: Option<String>,
    /// For `--auth oauth`: a client registered with the server's authorization server
    /// (without one, Switchboard registers itself where the server allows it). Its secret,
    /// if any, is the keychain item `--secret` names.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// For `--auth oauth`: scopes to ask for instead of the server's own.
    #[arg(long)]
    scope: Option<String>,
    /// For `--auth oauth`: machine to machine (the client-credentials grant, needs
    /// `--client-id` and `--secret`), instead of a person signing in.
    #[arg(long)]
    client_credentials: bool,
    /// A header sent to a remote server: `NAME=VALUE`. Repeatable.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// A header whose value is a keychain secret: `NAME=SECRET_NAME`. Repeatable.
    #[arg(long = "header-secret", value_name = "NAME=SECRET_NAME")]
    header_secrets: Vec<String>,
    /// An environment variable for a local server: `KEY=VALUE`. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// An environment variable whose value is a keychain secret: `KEY=SECRET_NAME`.
    #[arg(long = "env-secret", value_name = "KEY=SECRET_NAME")]
    env_secrets: Vec<String>,
    /// The working directory of a local server.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Share one child between every client session (stateless tool servers only).
    #[arg(long)]
    shared: bool,
    /// Replace a server of the same name.
    #[arg(long)]
    force: bool,
    /// If the URL carries a credential, move it into the keychain instead of refusing.
    #[arg(long)]
    move_inline_secrets: bool,
    /// Store `--env`/`--header` values that look like credentials in the keychain (as
    /// `<server>.<NAME>`) and reference them, instead of refusing them.
    #[arg(long)]
    store_secrets: bool,
    /// A local server's command and arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TransportArg {
    Auto,
    StreamableHttp,
    Sse,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuthKind {
    None,
    Bearer,
    Headers,
    Basic,
    Query,
    /// OAuth: sign in with `switchboard login NAME` (or the window).
    Oauth,
}

fn pairs(items: &[String], what: &str) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .with_context(|| format!("{what} '{item}' is not NAME=VALUE"))?;
            Ok((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

/// Adds the server to the config at `path`. `keychain` is opened only when a secret must move.
pub fn add(
    path: &Path,
    args: AddArgs,
    keychain: impl FnOnce() -> anyhow::Result<std::sync::Arc<dyn SecretStore>>,
) -> anyhow::Result<String> {
    let (mut config, _) = Config::load_or_create(path, Config::default)?;
    if !is_valid_server_name(&args.name) {
        bail!(
            "'{}' cannot be a server name: use 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'",
            args.name
        );
    }
    if config.servers.contains_key(&args.name) && !args.force {
        bail!(
            "a server named '{}' exists already (use --force to replace it)",
            args.name
        );
    }
    let credentials = plaintext_credentials(&args)?;
    if !credentials.is_empty() && !args.store_secrets {
        let names: Vec<String> = credentials
            .iter()
            .map(|c| format!("{} {}", c.flag, c.name))
            .collect();
        bail!(
            "{} look{} like a credential. Switchboard keeps credentials in the keychain, never in the config file,\n\
             and a value on the command line is visible to other local users (ps, shell history).\n\
             Run the same command with --store-secrets to move the value{} into the keychain, or store each one yourself with\n\
             `switchboard secret set NAME` (it reads the value from a hidden prompt or stdin) and pass --env-secret KEY=NAME\n\
             or --header-secret HEADER=NAME instead.",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" },
            if names.len() == 1 { "" } else { "s" },
        );
    }
    // The keychain is opened once, and only if a secret has to move into it.
    let mut opener = Some(keychain);
    let mut opened: Option<std::sync::Arc<dyn SecretStore>> = None;
    let mut store = move || -> anyhow::Result<std::sync::Arc<dyn SecretStore>> {
        if let Some(store) = &opened {
            return Ok(store.clone());
        }
        let open = opener.take().context("the keychain could not be opened")?;
        let store = open()?;
        opened = Some(store.clone());
        Ok(store)
    };
    let mut server = match (&args.url, args.command.split_first()) {
        (Some(url), None) => remote(url, &args, &mut store)?,
        (None, Some((program, rest))) => {
            let mut server = ServerConfig::stdio(program.clone(), rest.iter().cloned());
            for (k, v) in pairs(&args.env, "--env")? {
                server.env.insert(k, ValueSource::Literal(v));
            }
            for (k, secret) in pairs(&args.env_secrets, "--env-secret")? {
                server.env.insert(k, ValueSource::secret(secret.parse()?));
            }
            server.cwd = args.cwd.clone();
            server
        }
        (Some(_), Some(_)) => bail!("give either --url or a command after --, not both"),
        (None, None) => bail!("give a command after -- (a local server) or --url (a remote one)"),
    };
    if args.shared {
        server.sharing = Sharing::Shared;
    }
    for credential in &credentials {
        let name = derived_secret_name(&args.name, &credential.name)?;
        let value = switchboard_core::secrets::Sensitive::new(credential.value.clone());
        store()?.set(name.as_str(), &value)?;
        let entries = if credential.flag == "--env" {
            &mut server.env
        } else {
            &mut server.headers
        };
        entries.insert(credential.name.clone(), ValueSource::secret(name.clone()));
        eprintln!(
            "Stored the value of {} {} in the keychain as '{name}'.",
            credential.flag, credential.name
        );
    }
    // The same rules as the window's: the query-key gate, no credential over plain http.
    config.check_before_save(&args.name, &server)?;
    config.servers.insert(args.name.clone(), server);
    config.save(path)?;
    Ok(args.name)
}

fn remote(
    url_text: &str,
    args: &AddArgs,
    keychain: impl FnOnce() -> anyhow::Result<std::sync::Arc<dyn SecretStore>>,
) -> anyhow::Result<ServerConfig> {
    let mut url_text = url_text.to_owned();
    let mut moved_query_param = None;
    let inline = query_auth::inline_secrets(&url_text);
    if !inline.is_empty() {
        let names: Vec<&str> = inline
            .iter()
            .map(|s| s.suggested_secret_name.as_str())
            .collect();
        if !args.move_inline_secrets {
            bail!(
                "the URL carries a credential ({}). Switchboard keeps credentials in the keychain, never in the config file.\n\
                 Run the same command with --move-inline-secrets to move it there, or store it yourself with\n\
                 `switchboard secret set NAME` and pass --auth and --secret.",
                names.join(", ")
            );
        }
        if inline
            .iter()
            .any(|s| matches!(s.kind, query_auth::InlineSecretKind::Userinfo))
        {
            bail!(
                "the URL carries a user name and password. Store the password with `switchboard secret set NAME`\n\
                 and add the server with --auth basic --username USER --secret NAME and a URL without them."
            );
        }
        let (stripped, secrets) = query_auth::strip_inline_secrets(&url_text)
            .map_err(|e| anyhow::anyhow!("the URL is not valid: {e}"))?;
        let store = keychain()?;
        for secret in &secrets {
            store.set(&secret.suggested_secret_name, &secret.value)?;
            eprintln!(
                "Moved a credential from the URL into the keychain as '{}'.",
                secret.suggested_secret_name
            );
        }
        url_text = stripped.to_string();
        moved_query_param = secrets.iter().find_map(|secret| match &secret.kind {
            query_auth::InlineSecretKind::Param { name } => {
                Some((name.clone(), secret.suggested_secret_name.clone()))
            }
            _ => None,
        });
    }
    let mut server = ServerConfig::remote(url_text.clone());
    server.transport = match args.transport {
        TransportArg::Auto => RemoteTransport::Auto,
        TransportArg::StreamableHttp => RemoteTransport::StreamableHttp,
        TransportArg::Sse => RemoteTransport::Sse,
    };
    let secret = |what: &str| -> anyhow::Result<SecretName> {
        let name = args
            .secret
            .as_deref()
            .with_context(|| format!("--auth {what} needs --secret SECRET_NAME"))?;
        Ok(name.parse()?)
    };
    let (auth_kind, moved) = match (args.auth, moved_query_param) {
        (AuthKind::None, Some(moved)) => (AuthKind::Query, Some(moved)),
        (kind, moved) => (kind, moved),
    };
    server.auth = match auth_kind {
        AuthKind::None => UpstreamAuth::None,
        AuthKind::Bearer => UpstreamAuth::Bearer {
            secret: secret("bearer")?,
        },
        AuthKind::Basic => UpstreamAuth::Basic {
            username: args
                .username
                .clone()
                .context("--auth basic needs --username")?,
            secret: secret("basic")?,
        },
        AuthKind::Headers => {
            if args.header_secrets.is_empty() && args.headers.is_empty() {
                bail!(
                    "--auth headers needs --header-secret NAME=SECRET_NAME (or --header NAME=VALUE)"
                );
            }
            UpstreamAuth::Headers {
                headers: Default::default(),
            }
        }
        AuthKind::Oauth => UpstreamAuth::Oauth {
            client_id: args.client_id.clone(),
            client_secret: match &args.secret {
                Some(name) => Some(name.parse()?),
                None => None,
            },
            client_key: None,
            client_metadata_url: None,
            scope: args.scope.clone(),
            grant: if args.client_credentials {
                switchboard_core::config::OAuthGrant::ClientCredentials
            } else {
                switchboard_core::config::OAuthGrant::AuthorizationCode
            },
        },
        AuthKind::Query => {
            let (param, secret_name) = match moved {
                Some((param, secret_name)) => (param, secret_name.parse::<SecretName>()?),
                None => (
                    args.param
                        .clone()
                        .context("--auth query needs --param NAME")?,
                    secret("query")?,
                ),
            };
            UpstreamAuth::Query {
                param,
                secret: secret_name,
            }
        }
    };
    for (k, v) in pairs(&args.headers, "--header")? {
        server.headers.insert(k, ValueSource::Literal(v));
    }
    for (k, secret) in pairs(&args.header_secrets, "--header-secret")? {
        match &mut server.auth {
            UpstreamAuth::Headers { headers } => {
                headers.insert(k, ValueSource::secret(secret.parse()?))
            }
            _ => server
                .headers
                .insert(k, ValueSource::secret(secret.parse()?)),
        };
    }
    switchboard_core::url_policy::validate_url(&url_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(server)
}

/// A value given in plain text that looks like a credential.
struct PlaintextCredential {
    flag: &'static str,
    name: String,
    value: String,
}

/// `--env` and `--header` values that look like credentials (core's rule).
fn plaintext_credentials(args: &AddArgs) -> anyhow::Result<Vec<PlaintextCredential>> {
    let mut found = Vec::new();
    for (flag, items) in [("--env", &args.env), ("--header", &args.headers)] {
        for (name, value) in pairs(items, flag)? {
            if switchboard_core::secrets::looks_like_credential(&name, &value) {
                found.push(PlaintextCredential { flag, name, value });
            }
        }
    }
    Ok(found)
}

/// `<server>.<NAME>`, made a valid secret name.
fn derived_secret_name(server: &str, name: &str) -> anyhow::Result<SecretName> {
    Ok(SecretName::derived(server, name)?)
}
