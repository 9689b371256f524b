//! The running core as the shell holds it: one slot, managed as Tauri state.

use std::sync::Mutex;

use std::sync::Arc;

use std::time::Duration;

use switchboard_core::Hub;
use switchboard_core::secrets::{
    KEYCHAIN_SERVICE, KeychainStore, MemoryStore, SecretError, SecretStore,
};

use crate::launch::{Launch, SecretsIn};

/// Where the core is in its life; the window shows `Failed` instead of the app crashing.
enum Phase {
    Starting,
    Running(Arc<Hub>),
    Failed(String),
    Stopping,
}

/// Why there is no Hub to use.
pub enum NotRunning {
    Starting,
    Failed(String),
    Stopping,
}

/// What [`HubSlot::begin_shutdown`] leaves to the caller.
pub enum Shutdown {
    Stop(Arc<Hub>),
    NothingRuns,
    AlreadyStopping,
}

/// The managed state: the Hub once it runs, or why it does not.
pub struct HubSlot {
    phase: Mutex<Phase>,
}

impl Default for HubSlot {
    fn default() -> Self {
        HubSlot {
            phase: Mutex::new(Phase::Starting),
        }
    }
}

impl HubSlot {
    /// Loads (or on first run writes) the config and starts the proxy. Must run inside the
    /// async runtime; failures are kept for the window and logged.
    pub async fn start(&self, launch: &Launch) {
        let phase = match open(launch).await {
            Ok(hub) => Phase::Running(Arc::new(hub)),
            Err(e) => {
                log::error!("the proxy is not running: {e}");
                Phase::Failed(e)
            }
        };
        *self.lock() = phase;
    }

    /// Starts stopping: hands out the Hub, once. A second Quit gets `AlreadyStopping`, so it
    /// does not exit while the first one is still stopping children.
    pub fn begin_shutdown(&self) -> Shutdown {
        match std::mem::replace(&mut *self.lock(), Phase::Stopping) {
            Phase::Running(hub) => Shutdown::Stop(hub),
            Phase::Stopping => Shutdown::AlreadyStopping,
            Phase::Starting | Phase::Failed(_) => Shutdown::NothingRuns,
        }
    }

    /// The Hub while it runs.
    pub fn running(&self) -> Option<Arc<Hub>> {
        match &*self.lock() {
            Phase::Running(hub) => Some(hub.clone()),
            _ => None,
        }
    }

    /// The Hub while it runs, else why not (one look at the phase).
    pub fn hub(&self) -> Result<Arc<Hub>, NotRunning> {
        match &*self.lock() {
            Phase::Running(hub) => Ok(hub.clone()),
            Phase::Starting => Err(NotRunning::Starting),
            Phase::Failed(message) => Err(NotRunning::Failed(message.clone())),
            Phase::Stopping => Err(NotRunning::Stopping),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A panic elsewhere while holding the lock leaves the phase itself consistent.
        self.phase
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How long the keychain may take to open (it may show an unlock prompt first).
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Core's startup rule, as `switchboard serve` applies it, with the shell's keychain (opened
/// off the async threads, with a time limit) or a memory store.
async fn open(launch: &Launch) -> Result<Hub, String> {
    let startup = &launch.startup;
    let (config, created) = startup
        .load_config(&launch.program)
        .map_err(|e| e.to_string())?;
    if created {
        log::info!(
            "wrote a first-run config to {}",
            startup.config_path.display()
        );
    } else {
        log::info!("config: {}", startup.config_path.display());
    }
    // The keychain holds the API key and every secret a server references. Without it the
    // proxy does not start (unless a key was given or checks are off): no plaintext fallback.
    let keychain = match launch.secrets {
        SecretsIn::Keychain => {
            let opening =
                tauri::async_runtime::spawn_blocking(|| KeychainStore::open(KEYCHAIN_SERVICE));
            // A Secret Service that never answers (a stuck unlock prompt, a wedged daemon)
            // would otherwise leave the app without a proxy and without a word why.
            match tokio::time::timeout(KEYCHAIN_TIMEOUT, opening).await {
                Ok(opened) => opened
                    .map_err(|e| e.to_string())?
                    .map(|store| Arc::new(store) as Arc<dyn SecretStore>),
                Err(_) => Err(SecretError::Unavailable {
                    cause: format!("no answer within {} s", KEYCHAIN_TIMEOUT.as_secs()),
                    fix: "Unlock it (on Linux: the Secret Service, e.g. gnome-keyring or \
                          KWallet) and start Switchboard again."
                        .to_owned(),
                }),
            }
        }
        SecretsIn::Memory => Ok(Arc::new(MemoryStore::default()) as Arc<dyn SecretStore>),
    };
    // Reading (or creating) the key talks to the keychain: off the async threads.
    let (deciding, with) = (startup.clone(), config.clone());
    let authorized =
        tauri::async_runtime::spawn_blocking(move || deciding.authorize(&with, keychain))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    for warning in &authorized.warnings {
        log::warn!("{warning}");
    }
    let mut options = startup.hub_options(&config, authorized.auth, authorized.secrets);
    // The login shell's PATH (found by the shell at launch), for `npx`, `uvx` & co.
    options.relay.child_path = launch.child_path.clone();
    Hub::launch(&config, options)
        .await
        .map_err(|e| e.to_string())
}
