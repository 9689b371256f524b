//! `switchboard tools` and `switchboard profile`: what the aggregate endpoints show, and the
//! profiles, from the command line. Both edit the config file; a running Switchboard
//! applies the change when it starts again (the desktop app's Tools view applies it at once).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use switchboard_core::api_key;
use switchboard_core::config::{Config, Profile, ProfileServer, is_valid_profile_name};
use switchboard_core::relay::aggregate::ToolInventory;
use switchboard_core::relay::{Relay, RelayOptions, ServerContext};
use switchboard_core::secrets::SecretStore;

/// Past this many tools some clients refuse or truncate the list (Cursor's cap is about
/// 40; VS Code's 128).
const COMMON_CLIENT_CAP: usize = 40;

#[derive(clap::Args)]
pub struct ToolsArgs {
    /// Only this server's tools.
    server: Option<String>,
    /// As this profile shows them (`/profiles/<name>/mcp`), and switch them in its filter.
    #[arg(long)]
    profile: Option<String>,
    /// Hold this tool back (needs SERVER). Repeatable.
    #[arg(long, value_name = "TOOL", requires = "server")]
    disable: Vec<String>,
    /// Let this tool through again (needs SERVER). Repeatable.
    #[arg(long, value_name = "TOOL", requires = "server")]
    enable: Vec<String>,
}

/// Lists the tools (starting each server's catalogue session, as the aggregate does), or
/// switches some of them in the config.
pub fn tools(
    path: &Path,
    args: ToolsArgs,
    secrets: Option<Arc<dyn SecretStore>>,
) -> anyhow::Result<()> {
    let mut config = Config::load(path)?;
    if let Some(profile) = &args.profile
        && !config.proxy.profiles.contains_key(profile)
    {
        bail!("{} has no profile named '{profile}'", path.display());
    }
    if let Some(server) = &args.server
        && !config.servers.contains_key(server)
    {
        bail!("{} has no server named '{server}'", path.display());
    }
    if !args.disable.is_empty() || !args.enable.is_empty() {
        let server = args.server.as_deref().unwrap_or_default();
        let filter = match &args.profile {
            None => &mut config.servers[server].tools,
            Some(profile) => {
                &mut config.proxy.profiles[profile.as_str()]
                    .servers
                    .get_mut(server)
                    .with_context(|| format!("profile '{profile}' does not carry '{server}'"))?
                    .tools
            }
        };
        for (tools, on) in [(&args.disable, false), (&args.enable, true)] {
            for tool in tools {
                filter.set(tool, on).map_err(anyhow::Error::msg)?;
            }
        }
        config.check(path)?;
        config.save(path)?;
        println!(
            "Saved to {}. A running Switchboard applies it when it starts again.",
            path.display()
        );
        return Ok(());
    }
    let inventory = list(&config, &args, secrets)?;
    print_inventory(&inventory, &args);
    Ok(())
}

fn list(
    config: &Config,
    args: &ToolsArgs,
    secrets: Option<Arc<dyn SecretStore>>,
) -> anyhow::Result<ToolInventory> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let relay = Relay::new(
            config,
            RelayOptions::default(),
            ServerContext::new(config, secrets),
        );
        let inventory = relay
            .tools(args.profile.as_deref(), args.server.as_deref())
            .await;
        relay.shutdown().await;
        Ok(inventory?)
    })
}

fn print_inventory(inventory: &ToolInventory, args: &ToolsArgs) {
    let mut server = "";
    for tool in &inventory.tools {
        if tool.server != server {
            server = &tool.server;
            println!("{server}");
        }
        let state = if tool.enabled { "on " } else { "off" };
        let exposed = tool.exposed.as_deref().unwrap_or("-");
        let description = tool
            .description
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or_default();
        println!("  {state}  {:<40} {exposed:<48} {description}", tool.name);
    }
    for (server, why) in &inventory.unavailable {
        println!("{server}: its tools could not be listed: {why}");
    }
    let total = inventory.tools.len();
    let endpoint = match &args.profile {
        Some(profile) => format!("/profiles/{profile}/mcp"),
        None => "/mcp".to_owned(),
    };
    println!(
        "{} of {total} tools are shown on {endpoint}{}",
        inventory.visible,
        if args.server.is_some() {
            " from this server"
        } else {
            ""
        }
    );
    if args.server.is_none() && inventory.visible > COMMON_CLIENT_CAP {
        println!(
            "Warning: some clients cap the tool count (Cursor about 40, VS Code 128); switch some off with --disable or use a profile."
        );
    }
}

#[derive(clap::Subcommand)]
pub enum ProfileAction {
    /// The profiles, their servers and endpoints.
    List,
    /// Create or replace a profile.
    Add {
        name: String,
        /// A server the profile carries (repeatable; in this order).
        #[arg(long = "server", value_name = "SERVER", required = true)]
        servers: Vec<String>,
        /// Give the profile a key of its own (kept in the keychain) that opens this
        /// profile and nothing else.
        #[arg(long)]
        own_key: bool,
        /// Replace a profile of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Remove a profile (and its key).
    Remove { name: String },
    /// Show or rotate a profile's own key.
    Key {
        #[command(subcommand)]
        action: ProfileKeyAction,
    },
}

#[derive(clap::Subcommand)]
pub enum ProfileKeyAction {
    /// Print the profile's key (created on first use).
    Show { name: String },
    /// Replace the profile's key; a running Switchboard switches to it within seconds.
    Rotate { name: String },
}

pub fn profile(
    path: &Path,
    action: ProfileAction,
    keychain: impl FnOnce() -> anyhow::Result<Arc<dyn SecretStore>>,
) -> anyhow::Result<()> {
    let mut config = Config::load(path)?;
    match action {
        ProfileAction::List => {
            if config.proxy.profiles.is_empty() {
                println!(
                    "No profiles. Add one with `switchboard profile add NAME --server SERVER`."
                );
            }
            let port = config
                .proxy
                .port
                .unwrap_or(switchboard_core::config::DEFAULT_PORT);
            for (name, profile) in &config.proxy.profiles {
                let servers: Vec<&str> = profile.servers.keys().map(String::as_str).collect();
                println!(
                    "{name}: http://127.0.0.1:{port}/profiles/{name}/mcp  servers: {}{}",
                    servers.join(", "),
                    if profile.own_key { "  (own key)" } else { "" }
                );
            }
        }
        ProfileAction::Add {
            name,
            servers,
            own_key,
            force,
        } => {
            if !is_valid_profile_name(&name) {
                bail!("'{name}' cannot be a profile name: use 1 to 64 of A-Z, a-z, 0-9, '_', '-'");
            }
            if config.proxy.profiles.contains_key(&name) && !force {
                bail!("a profile named '{name}' exists already (use --force to replace it)");
            }
            for server in &servers {
                if !config.servers.contains_key(server) {
                    bail!("{} has no server named '{server}'", path.display());
                }
            }
            let profile = Profile {
                servers: servers
                    .into_iter()
                    .map(|s| (s, ProfileServer::default()))
                    .collect(),
                own_key,
                ..Profile::default()
            };
            if own_key {
                let store = keychain()?;
                api_key::load_or_create_at(
                    store.as_ref(),
                    &api_key::profile_item(&name),
                    &format!("profile '{name}''s key"),
                )?;
            }
            config.proxy.profiles.insert(name.clone(), profile);
            config.check(path)?;
            config.save(path)?;
            println!("Saved profile '{name}' to {}.", path.display());
            if own_key {
                println!("Its key: `switchboard profile key show {name}`.");
            }
        }
        ProfileAction::Remove { name } => {
            let Some(old) = config.proxy.profiles.shift_remove(&name) else {
                bail!("{} has no profile named '{name}'", path.display());
            };
            config.save(path)?;
            if old.own_key {
                keychain()?.delete(&api_key::profile_item(&name))?;
            }
            println!("Removed profile '{name}'.");
        }
        ProfileAction::Key { action } => {
            let (name, rotate) = match &action {
                ProfileKeyAction::Show { name } => (name, false),
                ProfileKeyAction::Rotate { name } => (name, true),
            };
            match config.proxy.profiles.get(name) {
                None => bail!("{} has no profile named '{name}'", path.display()),
                Some(p) if !p.own_key => bail!(
                    "profile '{name}' has no key of its own: it takes the main key (`switchboard key show`)"
                ),
                Some(_) => {}
            }
            let store = keychain()?;
            let item = api_key::profile_item(name);
            let what = format!("profile '{name}''s key");
            let key = if rotate {
                let key = api_key::rotate_at(store.as_ref(), &item, &what)?;
                eprintln!(
                    "Rotated. A running Switchboard accepts only the new key on /profiles/{name}/ within a few seconds."
                );
                key
            } else {
                api_key::load_or_create_at(store.as_ref(), &item, &what)?
            };
            println!("{}", key.expose());
            eprintln!(
                "It opens /profiles/{name}/mcp (and /profiles/{name}/sse) only, sent as 'Authorization: Bearer <key>'."
            );
        }
    }
    Ok(())
}
