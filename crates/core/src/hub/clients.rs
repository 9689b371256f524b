//! The Hub's operations on other clients' config files: import their servers, connect
//! them to Switchboard, undo. The paths come from the caller ([`Places`]); the rules from
//! [`crate::clients`].

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Hub, lock};
use crate::clients::connect::{self, Destination, Plan, State};
use crate::clients::import::{self, Candidate};
use crate::clients::read::{self, Found};
use crate::clients::{Client, ClientFile, FileError, Places, Scope};
use crate::error::{Error, Result};
use crate::secrets::SecretError;

/// What an import would bring in, and the files that could not be read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportPreview {
    pub candidates: Vec<Candidate>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    pub path: PathBuf,
    /// With the line and column.
    pub message: String,
}

/// What an import did, server by server.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub imported: Vec<String>,
    /// Servers not imported, with why.
    pub failed: Vec<(String, String)>,
    /// Keychain items the person must still set (placeholders the client filled in).
    pub needs_values: Vec<String>,
}

/// One detected client file and what Switchboard has done to it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientStatus {
    pub file: ClientFile,
    pub title: &'static str,
    pub exists: bool,
    pub state: State,
    /// Servers its file defines (0 when it cannot be read).
    pub servers: usize,
    pub error: Option<String>,
}

/// What "connect" points a client at.
#[derive(Debug, Clone, Default)]
pub struct ConnectTarget {
    /// A profile's endpoint instead of the aggregate.
    pub profile: Option<String>,
    /// One server's endpoint instead of the aggregate (when no profile is given).
    pub server: Option<String>,
    /// Turn off the client's own entries of servers Switchboard now carries.
    pub turn_off_imported: bool,
    /// `switchboard connect`'s program and arguments (`connect`, and `--config`/`--port`
    /// when it would not find this proxy by itself), for clients that start only stdio
    /// servers. It carries the aggregate, not a profile.
    pub bridge: Option<(PathBuf, Vec<String>)>,
}

fn unreadable(e: FileError) -> Unreadable {
    Unreadable {
        path: e.path,
        message: e.message,
    }
}

/// Every server of every detected file (of `from` only, when given).
fn found_in(
    places: &Places,
    from: Option<Client>,
    port: u16,
) -> (Vec<(ClientFile, Vec<Found>)>, Vec<Unreadable>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for file in crate::clients::detect(places) {
        if from.is_some_and(|c| c != file.client) {
            continue;
        }
        match std::fs::read_to_string(&file.path)
            .map_err(|e| FileError {
                path: file.path.clone(),
                message: e.to_string(),
            })
            .and_then(|text| read::read(&file, &text, port))
        {
            Ok(found) => files.push((file, found)),
            Err(e) => errors.push(unreadable(e)),
        }
    }
    (files, errors)
}

impl Hub {
    fn state_dir(&self) -> PathBuf {
        self.config_path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .unwrap_or_else(std::env::temp_dir)
    }

    /// What importing from the detected clients (or `from` alone) would do.
    pub fn import_preview(&self, places: &Places, from: Option<Client>) -> ImportPreview {
        let (files, unreadable) = found_in(places, from, self.access.port());
        let config = self.config();
        ImportPreview {
            candidates: import::plan(&config, &files),
            unreadable,
        }
    }

    /// Imports the chosen servers (by the path of their file and their name there): every
    /// secret value goes to the keychain first, referenced by name; then the server is
    /// saved. With no keychain nothing with a secret is imported (never a plaintext
    /// fallback). One that fails does not stop the others.
    pub async fn import(
        &self,
        places: &Places,
        chosen: &[(PathBuf, String)],
    ) -> Result<ImportReport> {
        let preview = self.import_preview(places, None);
        let mut report = ImportReport::default();
        for (path, name) in chosen {
            let Some(candidate) = preview
                .candidates
                .iter()
                .find(|c| c.from.path == *path && c.found.name == *name)
            else {
                report
                    .failed
                    .push((name.clone(), format!("not found in {}", path.display())));
                continue;
            };
            if !candidate.importable {
                let why = candidate
                    .found
                    .skip
                    .clone()
                    .or_else(|| candidate.conflict.clone())
                    .unwrap_or_else(|| "not importable".into());
                report.failed.push((name.clone(), why));
                continue;
            }
            let imported = import::imported(candidate);
            let stored = self.store_all(&imported.store).await;
            if let Err(e) = stored {
                report.failed.push((imported.name.clone(), e.to_string()));
                continue;
            }
            match self.save_server(&imported.name, imported.server).await {
                Ok(()) => {
                    report.imported.push(imported.name.clone());
                    report.needs_values.extend(
                        candidate
                            .secrets
                            .iter()
                            .filter(|s| s.needs_value)
                            .map(|s| s.secret.to_string()),
                    );
                }
                Err(e) => report.failed.push((imported.name.clone(), e.to_string())),
            }
        }
        Ok(report)
    }

    async fn store_all(
        &self,
        values: &[(
            crate::secrets::SecretName,
            crate::secrets::Sensitive<String>,
        )],
    ) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let store = self.secrets()?;
        let values = values.to_vec();
        tokio::task::spawn_blocking(move || {
            for (name, value) in &values {
                store.set(name.as_str(), value)?;
            }
            Ok::<(), SecretError>(())
        })
        .await
        .map_err(|e| SecretError::Failed {
            action: "store",
            name: "imported secrets".into(),
            cause: e.to_string(),
        })??;
        Ok(())
    }

    /// Every detected client file, and whether Switchboard is connected to it.
    pub fn clients(&self, places: &Places) -> Vec<ClientStatus> {
        let state_dir = self.state_dir();
        crate::clients::candidates(places)
            .into_iter()
            .filter(|file| {
                file.path.is_file() || connect::state(file, &state_dir) != State::NotConnected
            })
            .map(|file| {
                let text = std::fs::read_to_string(&file.path);
                let (servers, error) = match text
                    .as_deref()
                    .map(|t| read::read(&file, t, self.access.port()))
                {
                    Ok(Ok(found)) => (found.len(), None),
                    Ok(Err(e)) => (0, Some(e.to_string())),
                    Err(e) => (0, Some(e.to_string())),
                };
                ClientStatus {
                    title: file.client.title(),
                    exists: file.path.is_file(),
                    state: connect::state(&file, &state_dir),
                    servers,
                    error,
                    file,
                }
            })
            .collect()
    }

    /// The change that connects `client` (its file in `scope`) to Switchboard, without
    /// making it.
    pub async fn connect_plan(
        &self,
        places: &Places,
        client: Client,
        scope: Scope,
        target: &ConnectTarget,
    ) -> Result<Plan> {
        let file =
            crate::clients::file_of(places, client, scope).ok_or_else(|| Error::ConfigInvalid {
                path: PathBuf::new(),
                message: format!("{} has no {scope:?} config file here", client.title()),
            })?;
        let addr = self.local_addr();
        let (url, key, name, bridge) = match &target.profile {
            Some(profile) => {
                let own = lock(&self.config)
                    .proxy
                    .profiles
                    .get(profile)
                    .map(|p| p.own_key)
                    .ok_or_else(|| Error::UnknownProfile(profile.clone()))?;
                let key = if own {
                    Some(self.profile_key(profile).await?)
                } else {
                    self.api_key_if_checked().await?
                };
                (
                    format!("http://{addr}/profiles/{profile}/mcp"),
                    key,
                    format!("switchboard-{profile}"),
                    None,
                )
            }
            None => match &target.server {
                Some(server) => {
                    self.relay.server(server)?;
                    (
                        crate::Endpoint::new(addr, server).mcp_url,
                        self.api_key_if_checked().await?,
                        format!("switchboard-{server}"),
                        // The bridge to one server: its name after the options.
                        target.bridge.clone().map(|(program, mut args)| {
                            args.push(server.clone());
                            (program, args)
                        }),
                    )
                }
                None => (
                    format!("http://{addr}/mcp"),
                    self.api_key_if_checked().await?,
                    "switchboard".to_owned(),
                    target.bridge.clone(),
                ),
            },
        };
        let turn_off = if target.turn_off_imported {
            self.carried_entries(&file)
        } else {
            Vec::new()
        };
        let destination = Destination {
            url,
            key,
            bridge,
            name,
        };
        connect::plan(&file, &destination, &turn_off).map_err(file_error)
    }

    /// The key clients must send, when they must send one.
    async fn api_key_if_checked(&self) -> Result<Option<crate::secrets::Sensitive<String>>> {
        if self.auth_required() {
            self.api_key().await
        } else {
            Ok(None)
        }
    }

    /// The names of `file`'s entries whose server Switchboard already carries.
    fn carried_entries(&self, file: &ClientFile) -> Vec<String> {
        let found = std::fs::read_to_string(&file.path)
            .ok()
            .and_then(|text| read::read(file, &text, self.access.port()).ok())
            .unwrap_or_default();
        import::already_carried(&self.config(), file, found)
    }

    /// Makes a planned change (refused if the file changed since the plan).
    pub fn connect_apply(&self, plan: &Plan) -> Result<()> {
        connect::apply(plan, &self.state_dir()).map_err(file_error)
    }

    /// Restores `client`'s file as it was before Switchboard wrote it.
    pub fn connect_undo(
        &self,
        places: &Places,
        client: Client,
        scope: Scope,
        force: bool,
    ) -> Result<()> {
        let file =
            crate::clients::file_of(places, client, scope).ok_or_else(|| Error::ConfigInvalid {
                path: PathBuf::new(),
                message: format!("{} has no {scope:?} config file here", client.title()),
            })?;
        connect::undo(&file, &self.state_dir(), force).map_err(file_error)
    }
}

fn file_error(e: FileError) -> Error {
    Error::ConfigInvalid {
        path: e.path,
        message: e.message,
    }
}
