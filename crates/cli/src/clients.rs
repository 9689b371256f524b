//! `switchboard import` and `switchboard clients`: other clients' MCP configs, read, imported
//! and connected from the command line. The rules are core's (`clients`); this finds the
//! directories, asks, and prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use switchboard_core::api_key;
use switchboard_core::clients::connect::{self, Destination, State};
use switchboard_core::clients::import::{self, Candidate};
use switchboard_core::clients::read::{self, Target, ValueClass};
use switchboard_core::clients::{Client, ClientFile, Os, Places, Scope};
use switchboard_core::config::{Config, DEFAULT_PORT};
use switchboard_core::secrets::SecretStore;

/// Where clients keep their files on this machine; `project` adds a project's own files.
pub fn places(project: Option<PathBuf>) -> anyhow::Result<Places> {
    Ok(Places {
        os: Os::current(),
        home: dirs::home_dir().context("this system has no home directory")?,
        config_dir: dirs::config_dir().context("this system has no config directory")?,
        project,
    })
}

fn client_arg(id: &str) -> anyhow::Result<Client> {
    Client::from_id(id).with_context(|| {
        let known: Vec<&str> = Client::ALL.iter().map(|c| c.id()).collect();
        format!("unknown client '{id}' (one of: {})", known.join(", "))
    })
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Only this client's files (claude-desktop, claude-code, cursor, vscode, windsurf,
    /// zed, codex, gemini, cline, roo, lmstudio).
    #[arg(long, value_name = "CLIENT")]
    from: Option<String>,
    /// Also this project's own files (`.mcp.json`, `.vscode/mcp.json`, …).
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Show what would be imported, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import without asking (else it asks on a terminal, and refuses elsewhere).
    #[arg(long, short)]
    yes: bool,
}

/// The person's yes: `--yes`, or an answer on the terminal; never assumed.
fn confirmed(question: &str, yes: bool) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{question} Not asked: this is not a terminal. Run it again with --yes (or --dry-run to see the change)."
        );
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Finds the servers, shows each with its secrets, and imports those that are new.
pub fn import(
    config_path: &Path,
    args: ImportArgs,
    keychain: impl FnOnce() -> anyhow::Result<Arc<dyn SecretStore>>,
) -> anyhow::Result<()> {
    let from = args.from.as_deref().map(client_arg).transpose()?;
    let places = places(args.project)?;
    let (mut config, _) = Config::load_or_create(config_path, Config::default)?;
    let mut files = Vec::new();
    for file in switchboard_core::clients::detect(&places) {
        if from.is_some_and(|c| c != file.client) {
            continue;
        }
        let text = std::fs::read_to_string(&file.path)?;
        match read::read(&file, &text, port_of(&config)) {
            Ok(found) => files.push((file, found)),
            Err(e) => eprintln!("cannot read {e}"),
        }
    }
    if files.is_empty() {
        println!("No client config with MCP servers was found.");
        return Ok(());
    }
    let candidates = import::plan(&config, &files);
    for candidate in &candidates {
        print_candidate(candidate);
    }
    let chosen: Vec<&Candidate> = candidates.iter().filter(|c| c.importable).collect();
    if chosen.is_empty() {
        println!("\nNothing new to import.");
        return Ok(());
    }
    if args.dry_run {
        println!(
            "\n{} server(s) would be imported (dry run: nothing changed).",
            chosen.len()
        );
        return Ok(());
    }
    if !confirmed(&format!("\nImport {} server(s)?", chosen.len()), args.yes)? {
        println!("Nothing imported.");
        return Ok(());
    }
    let mut store: Option<Arc<dyn SecretStore>> = None;
    let mut keychain = Some(keychain);
    let mut imported = Vec::new();
    for candidate in chosen {
        let server = import::imported(candidate);
        if !server.store.is_empty() {
            if store.is_none() {
                let open = keychain
                    .take()
                    .context("the keychain could not be opened")?;
                store = Some(open()?);
            }
            let store = store.as_ref().context("the keychain could not be opened")?;
            for (name, value) in &server.store {
                store
                    .set(name.as_str(), value)
                    .with_context(|| format!("storing {name} for '{}'", server.name))?;
            }
        }
        config.check_before_save(&server.name, &server.server)?;
        config.servers.insert(server.name.clone(), server.server);
        imported.push(server.name);
    }
    config.check(config_path)?;
    config.save(config_path)?;
    println!(
        "\nImported {} into {}: {}. A running Switchboard applies it when it starts again.",
        imported.len(),
        config_path.display(),
        imported.join(", ")
    );
    let needs: Vec<String> = candidates
        .iter()
        .filter(|c| c.importable)
        .flat_map(|c| c.secrets.iter().filter(|s| s.needs_value))
        .map(|s| s.secret.to_string())
        .collect();
    if !needs.is_empty() {
        println!(
            "Values the clients filled in themselves are not known; set each with `switchboard secret set NAME`: {}",
            needs.join(", ")
        );
    }
    Ok(())
}

fn print_candidate(candidate: &Candidate) {
    let found = &candidate.found;
    let what = match &found.target {
        Target::Stdio { command, args, .. } => format!("{command} {}", args.join(" ")),
        Target::Remote { url, .. } => url.clone(),
        Target::Nothing => "-".into(),
    };
    let state = match (&found.skip, candidate.importable) {
        (Some(why), _) => format!("skipped: {why}"),
        (None, false) => candidate.conflict.clone().unwrap_or_default(),
        (None, true) => format!(
            "import as '{}'{}",
            candidate.name,
            candidate
                .conflict
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
    };
    println!(
        "{} {} [{}]: {}\n    {what}\n    {state}",
        candidate.from.client.title(),
        candidate.from.path.display(),
        found.name,
        if found.enabled { "on" } else { "off" }
    );
    for value in found.env.iter().chain(&found.headers) {
        let shown = match value.class {
            ValueClass::Secret => "secret: moves to the keychain".to_owned(),
            ValueClass::Placeholder => format!(
                "{}: the client fills it in; Switchboard asks for it",
                value.shown.as_deref().unwrap_or_default()
            ),
            ValueClass::Plain => value.shown.clone().unwrap_or_default(),
        };
        println!("    {} = {shown}", value.name);
    }
    for warning in &found.warnings {
        println!("    note: {warning}");
    }
}

#[derive(clap::Subcommand)]
pub enum ClientsAction {
    /// Point a client at Switchboard (the aggregate, or a profile): shows the change, then
    /// writes it, keeping a backup for `undo`.
    Connect {
        client: String,
        /// Its project file instead of its user file.
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// A profile's endpoint (and its own key, if it has one) instead of `/mcp`.
        #[arg(long, conflicts_with = "server")]
        profile: Option<String>,
        /// One server's endpoint instead of `/mcp`.
        #[arg(long)]
        server: Option<String>,
        /// Also turn off the client's own entries of servers Switchboard now carries.
        #[arg(long)]
        turn_off_imported: bool,
        /// Show the change and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write without asking (else it asks on a terminal, and refuses elsewhere).
        #[arg(long, short)]
        yes: bool,
    },
    /// Put a client's file back as it was before Switchboard wrote it, byte for byte.
    Undo {
        client: String,
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Even if the file changed since Switchboard wrote it.
        #[arg(long)]
        force: bool,
    },
}

/// `switchboard clients`: the detected clients and their state, or connect / undo one.
pub fn clients(
    config_path: &Path,
    action: Option<ClientsAction>,
    keychain: impl FnOnce() -> anyhow::Result<Arc<dyn SecretStore>>,
) -> anyhow::Result<()> {
    let state_dir = config_path
        .parent()
        .context("the config file has no directory")?
        .to_owned();
    match action {
        None => {
            let places = places(std::env::current_dir().ok())?;
            let port = Config::load(config_path).map_or(DEFAULT_PORT, |c| port_of(&c));
            let mut any = false;
            for file in switchboard_core::clients::candidates(&places) {
                let state = connect::state(&file, &state_dir);
                if !file.path.is_file() && state == State::NotConnected {
                    continue;
                }
                any = true;
                let servers = std::fs::read_to_string(&file.path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| read::read(&file, &t, port).map_err(|e| e.message))
                    .map(|f| format!("{} server(s)", f.len()))
                    .unwrap_or_else(|e| format!("unreadable: {e}"));
                println!(
                    "{:<16} {:<8} {:<15} {servers:<16} {}",
                    file.client.id(),
                    format!("{:?}", file.scope).to_lowercase(),
                    match state {
                        State::Connected => "connected",
                        State::NotConnected => "not connected",
                        State::ChangedSince => "changed since",
                    },
                    file.path.display()
                );
            }
            if !any {
                println!("No MCP client config was found.");
            }
            Ok(())
        }
        Some(ClientsAction::Connect {
            client,
            project,
            profile,
            server,
            turn_off_imported,
            dry_run,
            yes,
        }) => {
            let client = client_arg(&client)?;
            let file = file_for(client, project)?;
            let config = Config::load(config_path)?;
            let port = port_of(&config);
            // The key: SWITCHBOARD_API_KEY when given (as `connect` takes it), else the
            // keychain, opened only when needed.
            let given = std::env::var("SWITCHBOARD_API_KEY")
                .ok()
                .filter(|k| !k.is_empty())
                .map(switchboard_core::secrets::Sensitive::new);
            let mut opener = Some(keychain);
            let mut store = move || -> anyhow::Result<Arc<dyn SecretStore>> {
                opener.take().context("the keychain could not be opened")?()
            };
            let mut main_key =
                || -> anyhow::Result<switchboard_core::secrets::Sensitive<String>> {
                    match &given {
                        Some(key) => Ok(key.clone()),
                        None => Ok(api_key::load_or_create(store()?.as_ref())?),
                    }
                };
            if let Some(server) = &server
                && !config.servers.contains_key(server)
            {
                bail!("{} has no server named '{server}'", config_path.display());
            }
            let exe = || std::env::current_exe().context("cannot find the switchboard executable");
            let (url, key, name, bridge) = match &profile {
                Some(profile) => {
                    let entry = config.proxy.profiles.get(profile).with_context(|| {
                        format!("{} has no profile named '{profile}'", config_path.display())
                    })?;
                    let key = if entry.own_key {
                        api_key::load_or_create_at(
                            store()?.as_ref(),
                            &api_key::profile_item(profile),
                            &format!("profile '{profile}''s key"),
                        )?
                    } else {
                        main_key()?
                    };
                    (
                        format!("http://127.0.0.1:{port}/profiles/{profile}/mcp"),
                        key,
                        format!("switchboard-{profile}"),
                        None,
                    )
                }
                None => match &server {
                    Some(server) => (
                        format!("http://127.0.0.1:{port}/servers/{server}/mcp"),
                        main_key()?,
                        format!("switchboard-{server}"),
                        Some((exe()?, vec!["connect".to_owned(), server.clone()])),
                    ),
                    None => (
                        format!("http://127.0.0.1:{port}/mcp"),
                        main_key()?,
                        "switchboard".to_owned(),
                        Some((exe()?, vec!["connect".to_owned()])),
                    ),
                },
            };
            let key = config.proxy.require_api_key.then_some(key);
            let turn_off = if turn_off_imported {
                carried(&config, &file)
            } else {
                Vec::new()
            };
            let plan = connect::plan(
                &file,
                &Destination {
                    url,
                    key,
                    bridge,
                    name,
                },
                &turn_off,
            )?;
            if !plan.changes {
                println!(
                    "{} is connected already: nothing to change.",
                    client.title()
                );
                return Ok(());
            }
            print!("{}", plan.diff);
            if dry_run {
                println!("(dry run: nothing written)");
                return Ok(());
            }
            if !confirmed("Write this change?", yes)? {
                println!("Nothing written.");
                return Ok(());
            }
            connect::apply(&plan, &state_dir)?;
            println!(
                "Wrote {}. {} Undo: `switchboard clients undo {}`.",
                file.path.display(),
                plan.note,
                client.id()
            );
            Ok(())
        }
        Some(ClientsAction::Undo {
            client,
            project,
            force,
        }) => {
            let client = client_arg(&client)?;
            let file = file_for(client, project)?;
            connect::undo(&file, &state_dir, force)?;
            println!(
                "Restored {} as it was before Switchboard wrote it.",
                file.path.display()
            );
            Ok(())
        }
    }
}

fn file_for(client: Client, project: Option<PathBuf>) -> anyhow::Result<ClientFile> {
    let scope = if project.is_some() {
        Scope::Project
    } else {
        Scope::User
    };
    let places = places(project)?;
    match switchboard_core::clients::file_of(&places, client, scope) {
        Some(file) => Ok(file),
        None => bail!("{} has no project config file", client.title()),
    }
}

/// The client's entries whose server Switchboard already carries.
fn carried(config: &Config, file: &ClientFile) -> Vec<String> {
    let found = std::fs::read_to_string(&file.path)
        .ok()
        .and_then(|text| read::read(file, &text, port_of(config)).ok())
        .unwrap_or_default();
    import::already_carried(config, file, found)
}

/// The port Switchboard listens on (as `serve` and the desktop app choose it, less `--port`).
fn port_of(config: &Config) -> u16 {
    std::env::var("SWITCHBOARD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .or(config.proxy.port)
        .unwrap_or(DEFAULT_PORT)
}
