//! Switchboard's desktop shell: the core behind a window and a tray icon.
//!
//! - [`launch`]: the command line (clap), resolved by core's startup rule.
//! - [`hub`]: the running core, held as Tauri state.
//! - [`commands`]: the IPC commands of the UI in `ui/`, and the `state-changed` event.
//! - `tray`: the tray icon: the proxy and server switches, endpoint URLs, "Start at login".
//! - [`sign_in`], [`browser`]: OAuth sign-in: the sign-ins waiting for the browser, and
//!   the one place that opens a URL in it (checked first, from Rust only).
//! - [`autostart`], [`client_setup`]: "Start at login" and the snippets for MCP clients.
//!   Other clients' own config files (import from them, connect them) are core's
//!   (`switchboard_core::clients`); the shell gives it the directories ([`launch`]).
//! - `login_path` (Unix): the login shell's PATH, given to the servers' children.
//!
//! The shell holds no business logic: it starts [`switchboard_core::Hub`], shows what it
//! serves, and stops it (and with it every child process) before the app exits.

pub mod autostart;
pub mod browser;
pub mod client_setup;
pub mod commands;
mod hub;
pub mod launch;
#[cfg(unix)]
pub mod login_path;
pub mod sign_in;
mod tray;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::Hub;
use switchboard_core::clients::Places;
use switchboard_core::clients::connect::Plan;
use tauri::{
    App, AppHandle, Builder, Emitter, Manager, RunEvent, Runtime, State, WebviewWindowBuilder,
    WindowEvent,
};

use crate::autostart::Autostart;
use crate::hub::{HubSlot, Shutdown};
use crate::launch::Launch;
use crate::sign_in::SignIns;

/// The label of the one window, as in tauri.conf.json and the capability file.
pub const MAIN_WINDOW: &str = "main";

/// Sent to the webview whenever the state may have changed; the payload is what
/// `get_state` returns.
pub const STATE_CHANGED_EVENT: &str = "state-changed";

/// At most one `state-changed` (and tray update) per this interval; bursts coalesce.
const STATE_DEBOUNCE: Duration = Duration::from_millis(100);

/// The shell's own state next to the Hub: what "Start at login" writes, which program
/// clients run as the stdio bridge, and where other clients keep their configs.
pub struct Shell {
    pub autostart: Autostart,
    /// `switchboard` next to this executable if present, else the bare name (on PATH).
    pub cli: PathBuf,
    /// The port given at launch (`--port` or SWITCHBOARD_PORT) and where it came from.
    pub port_override: Option<(u16, &'static str)>,
    /// The config file when it is not the default one (`--config`, SWITCHBOARD_CONFIG).
    pub config_override: Option<PathBuf>,
    /// Where other MCP clients' configs are looked for (`None`: no home directory).
    pub places: Option<Places>,
    /// The connect plans shown to the person, by client file: Confirm writes exactly the
    /// change that was shown (they hold the key, so they never go to the window whole).
    pub connect_plans: Mutex<HashMap<PathBuf, Plan>>,
    /// The OAuth sign-ins waiting for the browser, one per server at most.
    pub sign_ins: SignIns,
    /// Wakes the task that publishes the state, for changes the Hub does not announce.
    changed: tokio::sync::Notify,
}

impl Shell {
    fn new(launch: &Launch) -> Shell {
        let beside = launch.program.parent().map(|dir| {
            dir.join(if cfg!(windows) {
                "switchboard.exe"
            } else {
                "switchboard"
            })
        });
        Shell {
            autostart: Autostart::new(launch.autostart_dir.clone(), launch.program.clone()),
            cli: beside
                .filter(|path| path.is_file())
                .unwrap_or_else(|| PathBuf::from("switchboard")),
            port_override: launch.port_override(),
            config_override: launch.config_override(),
            places: launch.places.clone(),
            connect_plans: Mutex::default(),
            sign_ins: SignIns::default(),
            changed: tokio::sync::Notify::new(),
        }
    }
}

/// Typed access to the shell's state from anything that reaches the app.
pub trait ShellExt<R: Runtime>: Manager<R> {
    fn hub_slot(&self) -> State<'_, HubSlot> {
        self.state::<HubSlot>()
    }

    fn shell(&self) -> State<'_, Shell> {
        self.state::<Shell>()
    }

    /// The Hub while it runs.
    fn hub(&self) -> Option<Arc<Hub>> {
        self.hub_slot().running()
    }

    /// Publishes the state again (window event and tray) soon.
    fn state_changed(&self) {
        self.shell().changed.notify_one();
    }
}

impl<R: Runtime, T: Manager<R>> ShellExt<R> for T {}

/// Logs to stderr at `RUST_LOG` (default info), every line from every crate through the
/// core's redactor first, exactly as the CLI does: child stderr and HTTP client traces can
/// carry secrets.
fn init_logging() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
            .target(env_logger::Target::Stderr)
            .build();
    let max_level = logger.filter();
    if let Err(e) = switchboard_core::redact::install(Box::new(logger), max_level) {
        eprintln!("switchboard-desktop: cannot install the logger: {e}");
    }
}

/// The desktop app's entry point, given its arguments without the program name.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    init_logging();
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut launch = match Launch::from_env(args) {
        Ok(launch) => launch,
        Err(e) => return e.report(),
    };
    // Started from the Dock or a desktop menu, this process lacks what the shell profile
    // adds to PATH (nvm, Homebrew, ~/.local/bin); the servers' children get the login
    // shell's. (Windows apps get the user's full PATH from the registry already.)
    #[cfg(unix)]
    {
        launch.child_path = login_path::child_path();
    }
    // Plugins that need a real desktop session (D-Bus, X11, a browser), so not in
    // `build_app`: one instance at a time (a second launch shows the first one's window),
    // the clipboard, and the browser opener for OAuth sign-in. The opener is used from Rust
    // only (`browser::open`): no capability grants the webview an `opener:` permission, and
    // its script that sends the page's link clicks to the browser is left out.
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            log::info!("another launch: showing the window");
            show_main_window(app);
        }))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        );
    // "Start at login" on macOS and Windows (Linux writes its XDG entry itself).
    #[cfg(any(target_os = "macos", windows))]
    let builder = builder.plugin(
        tauri_plugin_autostart::Builder::new()
            .app_name(autostart::APP_NAME)
            .build(),
    );
    match run_app(builder, launch) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            log::error!("cannot start the desktop app: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the app and runs its event loop until it exits; returns the exit code.
pub fn run_app<R: Runtime>(builder: Builder<R>, launch: Launch) -> tauri::Result<i32> {
    Ok(build_app(builder, launch)?.run_return(on_run_event))
}

/// Everything but the event loop, so tests can build it on the mock runtime. The core is
/// started in `setup`, which only runs once the event loop does.
pub fn build_app<R: Runtime>(builder: Builder<R>, launch: Launch) -> tauri::Result<App<R>> {
    builder
        .manage(HubSlot::default())
        .manage(Shell::new(&launch))
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::set_proxy_enabled,
            commands::set_port,
            commands::set_auth_required,
            commands::set_server_enabled,
            commands::save_server,
            commands::remove_server,
            commands::test_server,
            commands::server_logs,
            commands::secret_status,
            commands::set_secret,
            commands::delete_secret,
            commands::api_key,
            commands::rotate_key,
            commands::save_query_auth,
            commands::set_start_at_login,
            commands::client_setup,
            commands::tools,
            commands::set_tool_enabled,
            commands::save_profile,
            commands::remove_profile,
            commands::profile_key,
            commands::rotate_profile_key,
            commands::import_preview,
            commands::import_servers,
            commands::client_list,
            commands::client_connect_preview,
            commands::client_connect_apply,
            commands::client_undo,
            commands::sign_in,
            commands::sign_out,
            commands::auth_discovery,
        ])
        .setup(move |app| {
            setup(app.handle(), &launch);
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window destroys it, webview and all, and the app stays in the tray:
            // a hidden window would keep WebKit's web process (~170 MiB) alive all day.
            // `show_main_window` builds it again when it is asked for. Without a tray there
            // would be no way back to it, so then closing it quits.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN_WINDOW
                && window.app_handle().tray_by_id(tray::TRAY_ID).is_none()
            {
                api.prevent_close();
                quit(window.app_handle());
            }
        })
        .build(tauri::generate_context!())
}

fn setup<R: Runtime>(app: &AppHandle<R>, launch: &Launch) {
    // Blocking here is brief (a config read and a bind) and means the window's first
    // `get_state` already sees the result.
    tauri::async_runtime::block_on(app.state::<HubSlot>().start(launch));
    app.shell().autostart.attach(app);
    if let Err(e) = tray::build_tray(app) {
        log::error!("cannot create the tray icon (closing the window will quit): {e}");
    }
    if let Some(hub) = app.hub() {
        tauri::async_runtime::spawn(publish_changes(app.clone(), hub));
    }
    quit_on_signals(app.clone());
}

/// Sends `state-changed` to the webview and updates the tray whenever the Hub's state (or
/// the shell's) changes, until the Hub stops.
async fn publish_changes<R: Runtime>(app: AppHandle<R>, hub: Arc<Hub>) {
    let mut changes = hub.subscribe();
    loop {
        if app.hub().is_none() {
            break;
        }
        let state = commands::app_state(&hub, &app.shell());
        if let Err(e) = app.emit(STATE_CHANGED_EVENT, &state) {
            log::warn!("cannot send {STATE_CHANGED_EVENT}: {e}");
        }
        tray::update(&app, Some(&state));
        let shell = app.shell();
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            () = shell.changed.notified() => {}
        }
        tokio::time::sleep(STATE_DEBOUNCE).await;
    }
}

fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    match event {
        // The window was closed (not a Quit): stay in the tray, without a window.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        // An exit that did not go through `quit` still stops every child.
        RunEvent::Exit => {
            if let Shutdown::Stop(hub) = app.state::<HubSlot>().begin_shutdown() {
                tauri::async_runtime::block_on(hub.shutdown());
            }
        }
        _ => {}
    }
}

/// Stops the core, then exits. Runs in the background so the UI stays responsive.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(shutdown_and_exit(app));
}

async fn shutdown_and_exit<R: Runtime>(app: AppHandle<R>) {
    let shutdown = app.state::<HubSlot>().begin_shutdown();
    match shutdown {
        Shutdown::AlreadyStopping => return,
        Shutdown::Stop(hub) => {
            log::info!("stopping the proxy and its servers");
            hub.shutdown().await;
        }
        Shutdown::NothingRuns => {}
    }
    app.exit(0);
}

/// SIGTERM and SIGINT (Ctrl-C) do what Quit does.
fn quit_on_signals<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (mut term, mut int) = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => (term, int),
                (Err(e), _) | (_, Err(e)) => {
                    log::warn!("cannot handle SIGTERM and SIGINT: {e}");
                    return;
                }
            };
            tokio::select! {
                _ = term.recv() => log::info!("SIGTERM received"),
                _ = int.recv() => log::info!("SIGINT received"),
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            log::warn!("cannot handle Ctrl-C: {e}");
            return;
        }
        shutdown_and_exit(app).await;
    });
}

/// Shows, restores and focuses the window; builds it from tauri.conf.json when it was closed
/// (closing destroys it). From the tray's "Open Switchboard" and a second launch.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(window) => window,
        None => {
            let Some(config) = app
                .config()
                .app
                .windows
                .iter()
                .find(|w| w.label == MAIN_WINDOW)
            else {
                log::error!("tauri.conf.json has no window labelled '{MAIN_WINDOW}'");
                return;
            };
            match WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()) {
                Ok(window) => window,
                Err(e) => {
                    log::error!("cannot open the window: {e}");
                    return;
                }
            }
        }
    };
    for (what, result) in [
        ("show", window.show()),
        ("unminimize", window.unminimize()),
        ("focus", window.set_focus()),
    ] {
        if let Err(e) = result {
            log::warn!("cannot {what} the window: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
