//! The tray icon and its menu: the app lives here while its window is closed.
//!
//! The menu is rebuilt from [`AppState`] whenever the state changes (see
//! `publish_changes` in lib.rs), so every label and check mark follows the Hub; a click
//! only asks the Hub for a change and never updates the menu itself.

use switchboard_core::oauth::AuthState;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::ShellExt;
use crate::commands::{AppState, ServerView, app_state};

pub const TRAY_ID: &str = "main";

// Menu item ids, namespaced; the per-server ones end in the server's name (server names
// are limited to A-Z, a-z, 0-9, '_', '-' and '.').
pub const MENU_PROXY_TOGGLE: &str = "proxy/toggle";
pub const MENU_SERVER_TOGGLE: &str = "server/toggle/";
pub const MENU_SERVER_COPY: &str = "server/copy/";
pub const MENU_COPY_SUBMENU: &str = "server/copy";
pub const MENU_START_AT_LOGIN: &str = "settings/start-at-login";
pub const MENU_OPEN: &str = "tray/open";
pub const MENU_QUIT: &str = "tray/quit";
const MENU_NOT_RUNNING: &str = "proxy/not-running";
const MENU_NO_SERVERS: &str = "server/none";

/// The longest error text shown in a menu label.
const MAX_ERROR_CHARS: usize = 60;

/// One icon per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconKind {
    /// The proxy is off, or the core is not running.
    Off,
    /// On, and no server is failing.
    On,
    /// On, and at least one enabled server is failing.
    Failing,
}

impl IconKind {
    pub fn of(state: Option<&AppState>) -> IconKind {
        match state {
            Some(state) if state.proxy_enabled => {
                if state.servers.iter().any(ServerView::is_failing) {
                    IconKind::Failing
                } else {
                    IconKind::On
                }
            }
            _ => IconKind::Off,
        }
    }

    fn image(self) -> Image<'static> {
        match self {
            IconKind::Off => tauri::include_image!("icons/tray-off.png"),
            IconKind::On => tauri::include_image!("icons/tray-on.png"),
            IconKind::Failing => tauri::include_image!("icons/tray-error.png"),
        }
    }
}

/// "demo — running, 2 sessions", "demo — idle", "demo — off", "demo — error: …",
/// "demo — sign in needed" (an OAuth server; the window has the Sign in button).
pub fn server_label(server: &ServerView) -> String {
    let detail = if !server.enabled {
        "off".to_owned()
    } else if server.state == "needs-sign-in" {
        // What to do first, ahead of an error it causes (the server refuses without it).
        match &server.auth {
            // Machine to machine: no one signs in; the token is fetched at first use.
            Some(auth) if auth.machine && auth.state == AuthState::SignedOut => {
                "no token yet".to_owned()
            }
            Some(auth) if auth.machine => "token refused".to_owned(),
            _ => "sign in needed".to_owned(),
        }
    } else if server.is_failing() {
        let error = server.last_error.as_deref().unwrap_or_default();
        format!("error: {}", truncate(error.trim(), MAX_ERROR_CHARS))
    } else if server.state == "running" {
        match server.sessions {
            1 => "running, 1 session".to_owned(),
            n => format!("running, {n} sessions"),
        }
    } else {
        server.state.to_owned()
    };
    format!("{} — {detail}", server.name)
}

/// The tooltip: the state in one line.
pub fn tooltip(state: Option<&AppState>) -> String {
    let Some(state) = state else {
        return "Switchboard — not running".to_owned();
    };
    if !state.proxy_enabled {
        return "Switchboard — proxy off".to_owned();
    }
    let failing: Vec<&str> = state
        .servers
        .iter()
        .filter(|s| s.is_failing())
        .map(|s| s.name.as_str())
        .collect();
    if !failing.is_empty() {
        return format!("Switchboard — failing: {}", failing.join(", "));
    }
    let running = state
        .servers
        .iter()
        .filter(|s| s.state == "running")
        .count();
    format!(
        "Switchboard — proxy on ({}), {running} of {} servers running",
        state.listening,
        state.servers.len()
    )
}

fn truncate(text: &str, max: usize) -> String {
    // One line, at most `max` characters.
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max && line.len() == text.len() {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

fn current_state<R: Runtime>(app: &AppHandle<R>) -> Option<AppState> {
    app.hub().map(|hub| app_state(&hub, &app.shell()))
}

pub fn build_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    let state = current_state(app);
    let menu = build_menu(app, state.as_ref())?;
    TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(tooltip(state.as_ref()))
        .icon(IconKind::of(state.as_ref()).image())
        .menu(&menu)
        .on_menu_event(on_menu_event)
        .build(app)
}

/// Brings the icon, tooltip and menu in line with `state`.
pub fn update<R: Runtime>(app: &AppHandle<R>, state: Option<&AppState>) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let result = build_menu(app, state)
        .and_then(|menu| tray.set_menu(Some(menu)))
        .and_then(|()| tray.set_icon(Some(IconKind::of(state).image())))
        .and_then(|()| tray.set_tooltip(Some(tooltip(state))));
    if let Err(e) = result {
        log::warn!("cannot update the tray: {e}");
    }
}

fn build_menu<R: Runtime>(app: &AppHandle<R>, state: Option<&AppState>) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    match state {
        Some(state) => {
            let label = if state.proxy_enabled {
                "Proxy: on"
            } else {
                "Proxy: off"
            };
            menu.append(&CheckMenuItem::with_id(
                app,
                MENU_PROXY_TOGGLE,
                label,
                true,
                state.proxy_enabled,
                None::<&str>,
            )?)?;
            menu.append(&PredefinedMenuItem::separator(app)?)?;
            if state.servers.is_empty() {
                menu.append(&MenuItem::with_id(
                    app,
                    MENU_NO_SERVERS,
                    "No servers yet",
                    false,
                    None::<&str>,
                )?)?;
            }
            for server in &state.servers {
                menu.append(&CheckMenuItem::with_id(
                    app,
                    format!("{MENU_SERVER_TOGGLE}{}", server.name),
                    server_label(server),
                    true,
                    server.enabled,
                    None::<&str>,
                )?)?;
            }
            let copy = Submenu::with_id(
                app,
                MENU_COPY_SUBMENU,
                "Copy endpoint URL",
                !state.servers.is_empty(),
            )?;
            for server in &state.servers {
                copy.append(&MenuItem::with_id(
                    app,
                    format!("{MENU_SERVER_COPY}{}", server.name),
                    &server.name,
                    true,
                    None::<&str>,
                )?)?;
            }
            menu.append(&copy)?;
        }
        None => {
            menu.append(&MenuItem::with_id(
                app,
                MENU_NOT_RUNNING,
                "Proxy: not running (open Switchboard for details)",
                false,
                None::<&str>,
            )?)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        MENU_OPEN,
        "Open Switchboard",
        true,
        None::<&str>,
    )?)?;
    let autostart = &app.shell().autostart;
    menu.append(&CheckMenuItem::with_id(
        app,
        MENU_START_AT_LOGIN,
        "Start at login",
        autostart.is_supported(),
        autostart.is_enabled(),
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        MENU_QUIT,
        "Quit",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    match id {
        MENU_OPEN => crate::show_main_window(app),
        MENU_QUIT => crate::quit(app),
        MENU_PROXY_TOGGLE => toggle_proxy(app),
        MENU_START_AT_LOGIN => {
            let autostart = &app.shell().autostart;
            let enabled = !autostart.is_enabled();
            match autostart.set(enabled) {
                Ok(()) => log::info!("start at login: {}", on_off(enabled)),
                Err(e) => log::warn!("start at login: {e}"),
            }
            app.state_changed();
        }
        _ => {
            if let Some(name) = id.strip_prefix(MENU_SERVER_TOGGLE) {
                toggle_server(app, name.to_owned());
            } else if let Some(name) = id.strip_prefix(MENU_SERVER_COPY) {
                copy_endpoint(app, name);
            }
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn toggle_proxy<R: Runtime>(app: &AppHandle<R>) {
    let Some(hub) = app.hub() else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let on = !hub.proxy_enabled();
        log::info!("tray: turning the proxy {}", on_off(on));
        if let Err(e) = hub.set_proxy_enabled(on).await {
            log::warn!("cannot turn the proxy {}: {e}", on_off(on));
        }
        // Also after a failure: the check mark goes back to the truth.
        app.state_changed();
    });
}

fn toggle_server<R: Runtime>(app: &AppHandle<R>, name: String) {
    let Some(hub) = app.hub() else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(enabled) = hub.config().servers.get(&name).map(|s| s.enabled) else {
            return;
        };
        log::info!("tray: turning server '{name}' {}", on_off(!enabled));
        if let Err(e) = hub.set_server_enabled(&name, !enabled).await {
            log::warn!("cannot turn server '{name}' {}: {e}", on_off(!enabled));
        }
        app.state_changed();
    });
}

fn copy_endpoint<R: Runtime>(app: &AppHandle<R>, name: &str) {
    let Some(hub) = app.hub() else { return };
    let url = hub.endpoint(name).mcp_url;
    let Some(clipboard) = app.try_state::<tauri_plugin_clipboard_manager::Clipboard<R>>() else {
        log::warn!("no clipboard: cannot copy {url}");
        return;
    };
    match clipboard.write_text(url.as_str()) {
        Ok(()) => log::info!("copied {url}"),
        Err(e) => log::warn!("cannot copy {url} to the clipboard: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::config::ServerConfig;
    use switchboard_core::oauth::AuthStatus;

    fn server(
        enabled: bool,
        state: &'static str,
        sessions: usize,
        error: Option<&str>,
    ) -> ServerView {
        ServerView {
            name: "demo".into(),
            kind: "local",
            enabled,
            state,
            sessions,
            pids: Vec::new(),
            starts: 0,
            unexpected_exits: 0,
            last_error: error.map(str::to_owned),
            mcp_url: String::new(),
            sse_url: String::new(),
            config: ServerConfig::stdio("x", Vec::<String>::new()),
            auth: None,
        }
    }

    fn oauth(state: AuthState, machine: bool) -> AuthStatus {
        AuthStatus {
            state,
            account: None,
            issuer: None,
            expires_at: None,
            scope: None,
            refreshable: false,
            message: Some("not signed in".into()),
            machine,
        }
    }

    #[test]
    fn labels_follow_the_state() {
        assert_eq!(
            server_label(&server(true, "running", 2, None)),
            "demo — running, 2 sessions"
        );
        assert_eq!(
            server_label(&server(true, "running", 1, Some("old"))),
            "demo — running, 1 session"
        );
        assert_eq!(server_label(&server(true, "idle", 0, None)), "demo — idle");
        assert_eq!(
            server_label(&server(false, "disabled", 0, Some("x"))),
            "demo — off"
        );
        let long = format!("exited with status 1\n{}", "x".repeat(100));
        let label = server_label(&server(true, "idle", 0, Some(&long)));
        assert_eq!(label, "demo — error: exited with status 1…");
        let label = server_label(&server(true, "idle", 0, Some(&"y".repeat(100))));
        assert_eq!(label.chars().count(), "demo — error: ".chars().count() + 60);
    }

    #[test]
    fn an_oauth_server_without_a_sign_in_says_so() {
        let mut needs = server(true, "needs-sign-in", 0, Some("401 Unauthorized"));
        needs.auth = Some(oauth(AuthState::SignedOut, false));
        assert_eq!(server_label(&needs), "demo — sign in needed");
        needs.auth = Some(oauth(AuthState::NeedsSignIn, false));
        assert_eq!(server_label(&needs), "demo — sign in needed");
        // Signed in again: the usual labels.
        let mut signed_in = server(true, "running", 1, None);
        signed_in.auth = Some(oauth(AuthState::SignedIn, false));
        assert_eq!(server_label(&signed_in), "demo — running, 1 session");
        // Off stays off.
        let mut off = server(false, "disabled", 0, None);
        off.auth = Some(oauth(AuthState::SignedOut, false));
        assert_eq!(server_label(&off), "demo — off");
        // Machine to machine: nobody signs in.
        let mut machine = server(true, "needs-sign-in", 0, None);
        machine.auth = Some(oauth(AuthState::SignedOut, true));
        assert_eq!(server_label(&machine), "demo — no token yet");
        machine.auth = Some(oauth(AuthState::NeedsSignIn, true));
        assert_eq!(server_label(&machine), "demo — token refused");
    }

    #[test]
    fn the_icon_shows_off_on_and_failing() {
        let mut state = AppState {
            proxy_enabled: true,
            auth_required: true,
            listening: "http://127.0.0.1:1".into(),
            port: 1,
            settings: crate::commands::Settings {
                allow_query_param_auth: false,
                query_param_auth_origins: Vec::new(),
                start_at_login: false,
                start_at_login_supported: true,
                port_override: None,
            },
            aggregate: crate::commands::aggregate_endpoint(([127, 0, 0, 1], 1).into(), None),
            servers: vec![server(true, "running", 1, None)],
            profiles: Vec::new(),
        };
        assert_eq!(IconKind::of(Some(&state)), IconKind::On);
        state
            .servers
            .push(server(true, "idle", 0, Some("cannot start")));
        assert_eq!(IconKind::of(Some(&state)), IconKind::Failing);
        assert!(tooltip(Some(&state)).contains("failing: demo"));
        state.proxy_enabled = false;
        assert_eq!(IconKind::of(Some(&state)), IconKind::Off);
        assert_eq!(IconKind::of(None), IconKind::Off);
    }
}
