//! The running core as the shell holds it: one slot, managed as Tauri state.

use std::sync::Mutex;

use switchboard_core::config::{Config, DEFAULT_PORT};
use switchboard_core::relay::RelayOptions;
use switchboard_core::{Endpoint, Hub};

use crate::launch::Launch;

/// Where the core is in its life; the window shows `Failed` instead of the app crashing.
enum Phase {
    Starting,
    Running(Hub),
    Failed(String),
    Stopping,
}

/// A snapshot for the UI.
pub enum Snapshot {
    Starting,
    Running {
        listening: String,
        endpoints: Vec<Endpoint>,
    },
    Failed(String),
    Stopping,
}

/// What [`HubSlot::begin_shutdown`] leaves to the caller.
pub enum Shutdown {
    Stop(Hub),
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
            Ok(hub) => Phase::Running(hub),
            Err(e) => {
                log::error!("the proxy is not running: {e}");
                Phase::Failed(e.to_string())
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

    pub fn snapshot(&self) -> Snapshot {
        match &*self.lock() {
            Phase::Starting => Snapshot::Starting,
            Phase::Running(hub) => Snapshot::Running {
                listening: format!("http://{}", hub.local_addr()),
                endpoints: hub.endpoints(),
            },
            Phase::Failed(message) => Snapshot::Failed(message.clone()),
            Phase::Stopping => Snapshot::Stopping,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A panic elsewhere while holding the lock leaves the phase itself consistent.
        self.phase
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn open(launch: &Launch) -> switchboard_core::Result<Hub> {
    let (config, created) =
        Config::load_or_create(&launch.config_path, || Config::first_run(&launch.program))?;
    if created {
        log::info!(
            "wrote a first-run config to {}",
            launch.config_path.display()
        );
    } else {
        log::info!("config: {}", launch.config_path.display());
    }
    let port = launch.port.or(config.proxy.port).unwrap_or(DEFAULT_PORT);
    let relay = RelayOptions {
        idle_timeout: config.proxy.idle_timeout(),
        ..Default::default()
    };
    Hub::start(&config, port, relay).await
}
