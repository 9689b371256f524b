//! The headless `switchboard` command. Everything it does is a call into `switchboard-core`;
//! this crate only parses arguments, finds the OS config directory and handles signals.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard_core::Hub;
use switchboard_core::api_key;
use switchboard_core::config::Config;
use switchboard_core::relay::{Relay, RelayOptions, ServerContext};
use switchboard_core::secrets::{KEYCHAIN_SERVICE, KeychainStore, SecretName, SecretStore};
use switchboard_core::startup::{self, LaunchArgs, LaunchEnv, Startup};

mod add;
mod clients;
mod connect;
mod login;
mod secret;
mod tools;

/// The config file: `--config`, else SWITCHBOARD_CONFIG, else the OS config directory's (the
/// startup rule every command shares with `serve` and the desktop app).
fn config_path(given: Option<PathBuf>) -> anyhow::Result<(PathBuf, startup::ConfigSource)> {
    Ok(startup::config_path(
        given,
        &LaunchEnv::from_process(),
        default_config_path(),
    )?)
}

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Your local MCP servers behind one loopback proxy"
)]
struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy on 127.0.0.1 until Ctrl-C or SIGTERM.
    Serve {
        #[command(flatten)]
        launch: LaunchArgs,
    },
    /// Show or rotate the API key that clients must send.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Add a local server (`-- COMMAND ARGS…`) or a remote one (`--url`) to the config.
    Add {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        #[command(flatten)]
        args: Box<add::AddArgs>,
    },
    /// Store or remove a secret in the OS keychain (the value is read from stdin or a
    /// hidden prompt, never from the command line).
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Test a configured server: start or connect to it exactly as a client session would,
    /// send `initialize`, and report what answered.
    Test {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        name: String,
    },
    /// Sign in to a remote server that uses OAuth (auth type `oauth`): prints the address to
    /// open in a browser and waits for it to come back; the tokens go to the keychain.
    Login {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        name: String,
    },
    /// Sign out of a remote OAuth server: its tokens are revoked (where the server offers
    /// that) and removed from the keychain.
    Logout {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        name: String,
    },
    /// List the tools the aggregate endpoint (`/mcp`) or a profile shows, with their
    /// exposed names, or switch some off and on (`--disable`, `--enable`).
    Tools {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        #[command(flatten)]
        args: tools::ToolsArgs,
    },
    /// Profiles: subsets of the servers at `/profiles/<name>/mcp`, optionally with a key of
    /// their own.
    Profile {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: tools::ProfileAction,
    },
    /// Import the MCP servers other clients (Claude Desktop, Claude Code, Cursor, VS Code,
    /// Windsurf, Zed, Codex, Gemini CLI, …) have configured, moving their secrets into the
    /// keychain.
    Import {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        #[command(flatten)]
        args: clients::ImportArgs,
    },
    /// The MCP clients found on this machine and whether they use Switchboard; `connect`
    /// or `undo` one.
    Clients {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<clients::ClientsAction>,
    },
    /// Run the built-in demo MCP server on stdio (it is in the first-run config).
    DemoServer,
    /// Bridge stdio to a configured server behind the running proxy, or with no NAME to the
    /// aggregate of every enabled server (`/mcp`), for clients that only start stdio servers
    /// (Claude Desktop). The key comes from SWITCHBOARD_API_KEY or the OS keychain.
    Connect {
        /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
        /// switchboard/config.json).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// The proxy's port (else SWITCHBOARD_PORT, else the config's, else 17345).
        #[arg(long, value_name = "N")]
        port: Option<u16>,
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum SecretAction {
    /// Store NAME's value, read from stdin or a hidden prompt.
    Set { name: SecretName },
    /// Remove NAME.
    Unset { name: SecretName },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Print the API key (created on first use) and how clients send it.
    Show,
    /// Replace the API key; a running proxy switches to the new one within seconds.
    Rotate,
}

/// Runs the command line; the exit code says how it went.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that print a report of their own keep the log to what goes wrong.
    let quiet = matches!(
        cli.command,
        Command::Tools { .. }
            | Command::Profile { .. }
            | Command::Import { .. }
            | Command::Clients { .. }
    );
    init_logging(cli.verbose, quiet);
    let result = match cli.command {
        Command::Serve { launch } => serve(launch),
        Command::Key { action } => key(action),
        Command::Add { config, args } => config_path(config).and_then(|(path, _)| {
            let name = add::add(&path, *args, open_keychain)?;
            println!("Added '{name}' to {}.", path.display());
            Ok(())
        }),
        Command::Test { config, name } => {
            config_path(config).and_then(|(path, _)| test_server(&path, &name))
        }
        Command::Login { config, name } => {
            config_path(config).and_then(|(path, _)| login::login(&path, &name, open_keychain))
        }
        Command::Logout { config, name } => {
            config_path(config).and_then(|(path, _)| login::logout(&path, &name, open_keychain))
        }
        // The name was checked (core's rule) while the arguments were parsed, before the
        // keychain is opened.
        Command::Secret { action } => open_keychain().and_then(|store| match action {
            SecretAction::Set { name } => secret::set(store.as_ref(), &name),
            SecretAction::Unset { name } => secret::unset(store.as_ref(), &name),
        }),
        Command::Tools { config, args } => config_path(config).and_then(|(path, _)| {
            let secrets = open_keychain()
                .inspect_err(|e| log::debug!("{e:#}; servers that reference secrets cannot start"))
                .ok();
            tools::tools(&path, args, secrets)
        }),
        Command::Profile { config, action } => {
            config_path(config).and_then(|(path, _)| tools::profile(&path, action, open_keychain))
        }
        Command::Import { config, args } => {
            config_path(config).and_then(|(path, _)| clients::import(&path, args, open_keychain))
        }
        Command::Clients { config, action } => {
            config_path(config).and_then(|(path, _)| clients::clients(&path, action, open_keychain))
        }
        Command::DemoServer => switchboard_core::demo::run_stdio().context("demo server"),
        Command::Connect { config, port, name } => connect::run(config, port, name.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match verbose {
        0 if quiet => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
            .target(env_logger::Target::Stderr)
            .build();
    let max_level = logger.filter();
    // Every line, from every crate, passes through redaction before it is written.
    if let Err(e) = switchboard_core::redact::install(Box::new(logger), max_level) {
        eprintln!("switchboard: cannot install the logger: {e}");
    }
}

/// `$XDG_CONFIG_HOME/switchboard/config.json` and its equivalents elsewhere; `None` when the
/// system has no config directory.
pub fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| startup::default_config_in(&dir))
}

fn open_keychain() -> anyhow::Result<Arc<dyn SecretStore>> {
    Ok(open_keychain_store()?)
}

fn open_keychain_store() -> Result<Arc<dyn SecretStore>, switchboard_core::secrets::SecretError> {
    Ok(Arc::new(KeychainStore::open(KEYCHAIN_SERVICE)?))
}

fn key(action: KeyAction) -> anyhow::Result<()> {
    let store = open_keychain()?;
    let key = match action {
        KeyAction::Show => api_key::load_or_create(store.as_ref())?,
        KeyAction::Rotate => {
            let key = api_key::rotate(store.as_ref())?;
            eprintln!(
                "Rotated. A running Switchboard accepts only the new key within a few seconds."
            );
            key
        }
    };
    println!("{}", key.expose());
    eprintln!("Clients send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.");
    Ok(())
}

fn test_server(path: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let server = config
        .servers
        .get(name)
        .with_context(|| format!("{} has no server named '{name}'", path.display()))?;
    let secrets = open_keychain()
        .inspect_err(|e| log::warn!("{e:#}; servers that reference secrets cannot start"))
        .ok();
    // An OAuth server: what discovery finds, and no connection attempt without a sign-in.
    if matches!(
        server.auth,
        switchboard_core::config::UpstreamAuth::Oauth { .. }
    ) {
        let store = secrets
            .clone()
            .context("sign-in tokens are kept only in the keychain, which is not available")?;
        let state = login::describe_oauth(path, name, store)?;
        if state != switchboard_core::oauth::AuthState::SignedIn {
            anyhow::bail!("'{name}' cannot be reached until someone signs in");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let probe = runtime.block_on(async {
        let relay = Relay::new(
            &config,
            RelayOptions::default(),
            ServerContext::new(&config, secrets),
        );
        relay.probe(name, server).await
    })?;
    println!(
        "'{name}' answered: {} {} (protocol {})",
        probe.server_name, probe.server_version, probe.protocol_version
    );
    if let Some(eras) = probe.eras {
        println!("'{name}' speaks: {eras}");
    }
    Ok(())
}

/// `serve`: the startup rule (config, port, key) as the desktop app applies it, then the Hub
/// until a stop signal.
fn serve(launch: LaunchArgs) -> anyhow::Result<()> {
    let startup = Startup::resolve(launch, &LaunchEnv::from_process(), default_config_path())?;
    let path = startup.config_path.clone();
    let program = std::env::current_exe().context("cannot find the switchboard executable")?;
    let (config, created) = startup.load_config(&program)?;
    if created {
        println!("Created {} with the built-in demo server.", path.display());
    }
    let keychain = open_keychain_store();
    let authorized = startup.authorize(&config, keychain)?;
    for warning in &authorized.warnings {
        eprintln!("WARNING: {warning}");
    }
    let options = startup.hub_options(&config, authorized.auth, authorized.secrets);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let hub = Hub::launch(&config, options).await?;
        println!(
            "Switchboard {} listening on http://{}",
            env!("CARGO_PKG_VERSION"),
            hub.local_addr()
        );
        println!("Config: {}", path.display());
        if hub.auth_required() {
            println!("Clients must send the API key (`switchboard key show`) as 'Authorization: Bearer <key>'.");
        }
        let endpoints = hub.endpoints();
        if endpoints.is_empty() {
            println!("No servers are enabled yet; add one to the config file.");
        }
        for endpoint in endpoints {
            println!(
                "  {:<16} {}   (legacy SSE: {})",
                endpoint.server, endpoint.mcp_url, endpoint.sse_url
            );
        }
        wait_for_stop_signal().await;
        println!("Stopping every server…");
        hub.shutdown().await;
        Ok(())
    })
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
