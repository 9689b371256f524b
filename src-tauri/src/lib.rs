//! Switchboard's desktop shell: the core behind a window and a tray icon.
//!
//! - [`launch`]: config path and port from the command line and environment.
//! - [`hub`]: the running core, held as Tauri state.
//! - [`commands`]: the IPC commands of the UI in `ui/`.
//! - `tray`: the tray icon with "Open Switchboard" and "Quit".
//!
//! The shell holds no business logic: it starts [`switchboard_core::Hub`], shows what it
//! serves, and stops it (and with it every child process) before the app exits.

pub mod commands;
mod hub;
pub mod launch;
mod tray;

use std::ffi::OsString;
use std::process::ExitCode;

use tauri::{
    App, AppHandle, Builder, Manager, RunEvent, Runtime, WebviewWindowBuilder, WindowEvent,
};

use crate::hub::{HubSlot, Shutdown};
use crate::launch::Launch;

/// The label of the one window, as in tauri.conf.json and the capability file.
pub const MAIN_WINDOW: &str = "main";

/// The desktop app's entry point, given its arguments without the program name.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let launch = match Launch::from_env(args) {
        Ok(launch) => launch,
        Err(e) => {
            eprintln!("switchboard-desktop: {e}");
            return ExitCode::from(2);
        }
    };
    match run_app(tauri::Builder::default(), launch) {
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
        .invoke_handler(tauri::generate_handler![commands::proxy_info])
        .setup(move |app| {
            setup(app.handle(), &launch);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN_WINDOW
            {
                api.prevent_close();
                // Without a tray there would be no way back to a hidden window.
                if window.app_handle().tray_by_id(tray::TRAY_ID).is_none() {
                    quit(window.app_handle());
                } else if let Err(e) = window.hide() {
                    log::warn!("cannot hide the window: {e}");
                }
            }
        })
        .build(tauri::generate_context!())
}

fn setup<R: Runtime>(app: &AppHandle<R>, launch: &Launch) {
    // Blocking here is brief (a config read and a bind) and means the window's first
    // `proxy_info` already sees the result.
    tauri::async_runtime::block_on(app.state::<HubSlot>().start(launch));
    if let Err(e) = tray::build_tray(app) {
        log::error!("cannot create the tray icon (closing the window will quit): {e}");
    }
    quit_on_signals(app.clone());
}

fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    match event {
        // The last window closed (not a Quit): stay in the tray.
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

/// Shows, restores and focuses the window, recreating it if it was destroyed.
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
