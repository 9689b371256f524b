//! The shell on Tauri's mock runtime: real config, real ACL, a real Hub, no display.

use std::net::TcpListener;

use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindowBuilder};

use crate::hub::{HubSlot, Shutdown};
use crate::launch::Launch;
use crate::{MAIN_WINDOW, build_app};

fn launch(dir: &tempfile::TempDir, port: u16) -> Launch {
    Launch {
        config_path: dir.path().join("switchboard").join("config.json"),
        port: Some(port),
        program: "/opt/switchboard/switchboard-desktop".into(),
        // No keychain in unit tests: an explicit key, as a headless user would give one.
        api_key: Some(switchboard_core::secrets::Sensitive::new(
            "sbk_desktop-test-key-0123456789".into(),
        )),
    }
}

/// The app with the core started as `setup` would start it.
fn started_app(launch: &Launch) -> App<MockRuntime> {
    let app = build_app(mock_builder(), launch.clone()).unwrap();
    tauri::async_runtime::block_on(app.state::<HubSlot>().start(launch));
    app
}

fn invoke(app: &App<MockRuntime>, window: &str, cmd: &str) -> Result<Value, Value> {
    let webview = WebviewWindowBuilder::new(app, window, Default::default())
        .build()
        .unwrap();
    get_ipc_response(
        &webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // On Linux the app's own origin; `http://tauri.localhost` would count as remote there.
            url: if cfg!(windows) {
                "http://tauri.localhost"
            } else {
                "tauri://localhost"
            }
            .parse()
            .unwrap(),
            body: InvokeBody::Json(json!({})),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

fn stop(app: &App<MockRuntime>) {
    if let Shutdown::Stop(hub) = app.state::<HubSlot>().begin_shutdown() {
        tauri::async_runtime::block_on(hub.shutdown());
    }
}

#[test]
fn proxy_info_lists_the_first_run_demo_server() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);

    let info = invoke(&app, MAIN_WINDOW, "proxy_info").unwrap();
    let listening = info["listening"].as_str().unwrap();
    assert!(listening.starts_with("http://127.0.0.1:"), "{info}");
    assert_eq!(
        info["endpoints"],
        json!([{
            "server": "demo",
            "mcpUrl": format!("{listening}/servers/demo/mcp"),
            "sseUrl": format!("{listening}/servers/demo/sse"),
        }])
    );
    // First run wrote the demo server, run by this program, into the config.
    let written = std::fs::read_to_string(&launch.config_path).unwrap();
    assert!(written.contains("demo-server"), "{written}");
    stop(&app);
}

#[test]
fn a_port_in_use_is_reported_to_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = started_app(&launch(&dir, taken.local_addr().unwrap().port()));

    let error = invoke(&app, MAIN_WINDOW, "proxy_info").unwrap_err();
    assert_eq!(error["code"], "not_running", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("cannot listen"),
        "{error}"
    );
}

#[test]
fn other_windows_may_not_call_commands() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));

    let error = invoke(&app, "elsewhere", "proxy_info").unwrap_err();
    // Refused by the ACL: the capability names the main window only.
    assert!(
        error
            .as_str()
            .is_some_and(|e| e.contains(r#"not allowed on window "elsewhere""#)),
        "{error}"
    );
    stop(&app);
}

#[test]
fn quit_stops_the_hub_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));

    let slot = app.state::<HubSlot>();
    let Shutdown::Stop(hub) = slot.begin_shutdown() else {
        panic!("the hub should be running");
    };
    assert!(matches!(slot.begin_shutdown(), Shutdown::AlreadyStopping));
    tauri::async_runtime::block_on(hub.shutdown());
    let error = invoke(&app, MAIN_WINDOW, "proxy_info").unwrap_err();
    assert_eq!(error["code"], "stopping", "{error}");
}
