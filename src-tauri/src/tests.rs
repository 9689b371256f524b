//! The shell on Tauri's mock runtime: real config, real ACL, a real Hub, no display.

use std::net::TcpListener;

use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindowBuilder};

use crate::hub::{HubSlot, Shutdown};
use crate::launch::{Launch, SecretsIn};
use crate::{MAIN_WINDOW, STATE_CHANGED_EVENT, ShellExt, build_app};
use switchboard_core::clients::{Os, Places};
use switchboard_core::config::Config;
use switchboard_core::secrets::Sensitive;
use switchboard_core::startup::{
    API_KEY_ENV, ConfigSource, KeyChoice, PortOverride, PortSource, Startup,
};

const KEY: &str = "sbk_desktop-test-key-0123456789";

/// A launch with the default config file in `dir` (written on first run), on `port` as if
/// given with `--port`.
fn launch(dir: &tempfile::TempDir, port: u16) -> Launch {
    Launch {
        startup: Startup {
            config_path: dir.path().join("switchboard").join("config.json"),
            config_source: ConfigSource::Default,
            port: Some(PortOverride {
                port,
                source: PortSource::Flag,
            }),
            // No keychain in unit tests: an explicit key, as a headless user would give one.
            key: KeyChoice::Given {
                key: Sensitive::new(KEY.into()),
                source: API_KEY_ENV,
            },
        },
        program: "/opt/switchboard/switchboard-desktop".into(),
        // Hermetic: no keychain, no user autostart folder, no user's client configs.
        secrets: SecretsIn::Memory,
        autostart_dir: Some(dir.path().join("autostart")),
        child_path: None,
        places: Some(Places {
            os: Os::current(),
            home: dir.path().join("home"),
            config_dir: dir.path().join("home").join(".config"),
            project: None,
        }),
    }
}

/// A launch with no port given: the first-run config already written, with a free port in it.
fn launch_on_the_config_port(dir: &tempfile::TempDir) -> Launch {
    let mut launch = launch(dir, 0);
    launch.startup.port = None;
    let mut config = Config::first_run(&launch.program);
    config.proxy.port = Some(
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    );
    config.save(&launch.startup.config_path).unwrap();
    launch
}

/// A launch whose config file holds `config` (on a free port, given as with `--port`).
fn launch_with_config(dir: &tempfile::TempDir, config: Value) -> Launch {
    let launch = launch(dir, 0);
    std::fs::create_dir_all(launch.startup.config_path.parent().unwrap()).unwrap();
    std::fs::write(&launch.startup.config_path, config.to_string()).unwrap();
    launch
}

/// The app with the core started as `setup` would start it.
fn started_app(launch: &Launch) -> App<MockRuntime> {
    let app = build_app(mock_builder(), launch.clone()).unwrap();
    tauri::async_runtime::block_on(app.state::<HubSlot>().start(launch));
    app
}

fn invoke(app: &App<MockRuntime>, window: &str, cmd: &str) -> Result<Value, Value> {
    call_in(app, window, cmd, json!({}))
}

fn call(app: &App<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    call_in(app, MAIN_WINDOW, cmd, args)
}

/// The error's `code`, for a call that must be refused.
fn refused(app: &App<MockRuntime>, cmd: &str, args: Value) -> String {
    let error = call(app, cmd, args.clone()).expect_err(&format!("{cmd} {args} should fail"));
    error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{cmd}: no code in {error}"))
        .to_owned()
}

fn call_in(app: &App<MockRuntime>, window: &str, cmd: &str, args: Value) -> Result<Value, Value> {
    let webview = match app.get_webview_window(window) {
        Some(webview) => webview,
        None => WebviewWindowBuilder::new(app, window, Default::default())
            .build()
            .unwrap(),
    };
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
            body: InvokeBody::Json(args),
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
fn a_port_in_use_is_reported_to_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = started_app(&launch(&dir, taken.local_addr().unwrap().port()));

    let error = invoke(&app, MAIN_WINDOW, "get_state").unwrap_err();
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

    let error = invoke(&app, "elsewhere", "get_state").unwrap_err();
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
    let error = invoke(&app, MAIN_WINDOW, "get_state").unwrap_err();
    assert_eq!(error["code"], "stopping", "{error}");
}

fn state(app: &App<MockRuntime>) -> Value {
    call(app, "get_state", json!({})).unwrap()
}

fn server<'a>(state: &'a Value, name: &str) -> &'a Value {
    state["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no server {name} in {state}"))
}

/// A built executable that serves the demo MCP server on stdio (`PROGRAM demo-server`):
/// the desktop app or the CLI next to this test binary, if cargo built one.
fn demo_server_program() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let debug = exe.parent()?.parent()?;
    ["switchboard-desktop", "switchboard"]
        .iter()
        .map(|name| debug.join(name))
        .find(|path| path.is_file())
}

#[test]
fn get_state_describes_the_proxy_and_its_servers() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch_on_the_config_port(&dir);
    let app = started_app(&launch);

    let state = state(&app);
    let listening = state["listening"].as_str().unwrap();
    assert_eq!(state["proxyEnabled"], true, "{state}");
    assert_eq!(state["authRequired"], true, "{state}");
    assert_eq!(
        listening,
        format!("http://127.0.0.1:{}", state["port"].as_u64().unwrap())
    );
    assert_eq!(
        state["settings"],
        json!({"allowQueryParamAuth": false, "queryParamAuthOrigins": [], "startAtLogin": false,
               "startAtLoginSupported": true, "portOverride": null})
    );
    let demo = server(&state, "demo");
    assert_eq!(demo["kind"], "local");
    assert_eq!(demo["enabled"], true);
    assert_eq!(demo["state"], "idle");
    assert_eq!(demo["sessions"], 0);
    assert_eq!(demo["mcpUrl"], format!("{listening}/servers/demo/mcp"));
    assert_eq!(demo["sseUrl"], format!("{listening}/servers/demo/sse"));
    assert_eq!(
        demo["config"],
        json!({"command": "/opt/switchboard/switchboard-desktop", "args": ["demo-server"]})
    );
    assert_eq!(
        state["aggregate"],
        json!({"mcpUrl": format!("{listening}/mcp"), "sseUrl": format!("{listening}/sse")})
    );
    assert_eq!(state["profiles"], json!([]));
    // First run wrote the demo server, run by this program, into the config.
    let written = std::fs::read_to_string(&launch.startup.config_path).unwrap();
    assert!(written.contains("demo-server"), "{written}");
    stop(&app);
}

#[test]
fn the_proxy_switch_releases_and_rebinds_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    let port = state(&app)["port"].as_u64().unwrap() as u16;

    call(&app, "set_proxy_enabled", json!({"enabled": false})).unwrap();
    assert_eq!(state(&app)["proxyEnabled"], false);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    call(&app, "set_proxy_enabled", json!({"enabled": true})).unwrap();
    assert_eq!(state(&app)["proxyEnabled"], true);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    stop(&app);
}

/// The status code of a raw `GET /status` without a key, and the body.
fn keyless_status(port: u16) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn saved_config(launch: &Launch) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&launch.startup.config_path).unwrap()).unwrap()
}

#[test]
fn set_port_moves_the_proxy_and_saves_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);
    let old = state(&app)["port"].as_u64().unwrap() as u16;
    let new = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    call(&app, "set_port", json!({"port": new})).unwrap();
    let after = state(&app);
    assert_eq!(after["port"], new, "{after}");
    assert_eq!(after["listening"], format!("http://127.0.0.1:{new}"));
    assert_eq!(
        server(&after, "demo")["mcpUrl"],
        format!("http://127.0.0.1:{new}/servers/demo/mcp")
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", old)).is_err());
    assert_eq!(keyless_status(new).0, 200);
    assert_eq!(saved_config(&launch)["switchboard"]["port"], new);

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    assert_eq!(
        refused(&app, "set_port", json!({"port": busy})),
        "port_in_use"
    );
    assert_eq!(refused(&app, "set_port", json!({"port": 0})), "invalid");
    assert_eq!(state(&app)["port"], new);
    assert_eq!(saved_config(&launch)["switchboard"]["port"], new);
    stop(&app);
}

#[test]
fn the_key_check_is_switched_off_and_on() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);
    let port = state(&app)["port"].as_u64().unwrap() as u16;
    // Without a key, `/status` answers with details only while checks are off.
    let status = || {
        let (code, body) = keyless_status(port);
        assert_eq!(code, 200, "{body}");
        body
    };
    assert!(status().get("servers").is_none(), "details without a key");

    call(&app, "set_auth_required", json!({"required": false})).unwrap();
    assert_eq!(state(&app)["authRequired"], false);
    let open = status();
    assert_eq!(open["auth"], "disabled", "{open}");
    assert!(open["warning"].is_string(), "{open}");
    assert_eq!(saved_config(&launch)["switchboard"]["requireApiKey"], false);
    // The key is kept, for clients and for turning checks on again.
    assert_eq!(call(&app, "api_key", json!({})).unwrap(), json!(KEY));

    call(&app, "set_auth_required", json!({"required": true})).unwrap();
    assert_eq!(state(&app)["authRequired"], true);
    assert!(status().get("servers").is_none());
    assert!(saved_config(&launch)["switchboard"]["requireApiKey"].is_null());
    stop(&app);
}

#[test]
fn a_config_that_turned_checks_off_is_honoured_at_launch() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    std::fs::create_dir_all(launch.startup.config_path.parent().unwrap()).unwrap();
    std::fs::write(
        &launch.startup.config_path,
        r#"{"mcpServers": {}, "switchboard": {"requireApiKey": false}}"#,
    )
    .unwrap();
    // SWITCHBOARD_API_KEY (here `launch.startup.key`) does not turn them back on.
    let app = started_app(&launch);
    assert_eq!(state(&app)["authRequired"], false);
    call(&app, "set_auth_required", json!({"required": true})).unwrap();
    assert_eq!(state(&app)["authRequired"], true);
    stop(&app);
}

#[test]
fn a_port_given_at_launch_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(&dir, 0);
    launch.startup.port = Some(PortOverride {
        port: 0,
        source: PortSource::Env,
    });
    let app = started_app(&launch);
    assert_eq!(
        state(&app)["settings"]["portOverride"],
        json!({"port": 0, "source": "SWITCHBOARD_PORT"})
    );
    stop(&app);
}

#[test]
fn servers_are_switched_saved_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);

    call(
        &app,
        "set_server_enabled",
        json!({"name": "demo", "enabled": false}),
    )
    .unwrap();
    let demo = server(&state(&app), "demo").clone();
    assert_eq!(
        (demo["enabled"].clone(), demo["state"].clone()),
        (json!(false), json!("disabled"))
    );
    assert_eq!(
        refused(
            &app,
            "set_server_enabled",
            json!({"name": "nope", "enabled": true})
        ),
        "unknown_server"
    );

    let remote = json!({"url": "https://mcp.example.com/mcp",
                        "auth": {"type": "bearer", "secret": "EXAMPLE_TOKEN"}});
    call(
        &app,
        "save_server",
        json!({"name": "remote", "server": remote}),
    )
    .unwrap();
    let state = state(&app);
    assert_eq!(server(&state, "remote")["kind"], "remote");
    assert_eq!(server(&state, "remote")["config"], remote);
    let written = std::fs::read_to_string(&launch.startup.config_path).unwrap();
    assert!(written.contains("EXAMPLE_TOKEN"), "{written}");
    assert_eq!(
        refused(
            &app,
            "save_server",
            json!({"name": "bad name", "server": remote})
        ),
        "invalid"
    );

    call(&app, "remove_server", json!({"name": "remote"})).unwrap();
    assert_eq!(
        refused(&app, "remove_server", json!({"name": "remote"})),
        "unknown_server"
    );
    stop(&app);
}

#[test]
fn query_auth_needs_the_setting_and_an_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    let server = json!({"url": "https://maps.example.com/mcp",
                        "auth": {"type": "query", "param": "key", "secret": "MAPS_KEY"}});
    let save = |ack: Value| json!({"name": "maps", "server": server, "acknowledgeInsecure": ack});

    assert_eq!(
        refused(&app, "save_server", save(json!(true))),
        "query_auth_off"
    );
    assert_eq!(
        refused(
            &app,
            "save_query_auth",
            json!({"enabled": true, "origins": ["not an origin"]})
        ),
        "invalid"
    );
    call(
        &app,
        "save_query_auth",
        json!({"enabled": true, "origins": ["https://maps.example.com"]}),
    )
    .unwrap();
    assert_eq!(
        state(&app)["settings"]["queryParamAuthOrigins"],
        json!(["https://maps.example.com"])
    );
    assert_eq!(
        refused(&app, "save_server", save(json!(false))),
        "needs_acknowledgement"
    );
    assert_eq!(
        refused(&app, "save_server", save(Value::Null)),
        "needs_acknowledgement"
    );
    call(&app, "save_server", save(json!(true))).unwrap();
    stop(&app);
}

#[test]
fn test_server_probes_a_definition() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));

    let missing = json!({"command": "/nonexistent/switchboard-test-program"});
    assert_eq!(
        refused(&app, "test_server", json!({"name": "x", "server": missing})),
        "test_failed"
    );
    match demo_server_program() {
        Some(program) => {
            let server = json!({"command": program, "args": ["demo-server"]});
            let probe = call(
                &app,
                "test_server",
                json!({"name": "demo", "server": server}),
            )
            .unwrap();
            assert!(probe["serverName"].is_string(), "{probe}");
            assert!(probe["protocolVersion"].is_string(), "{probe}");
        }
        None => eprintln!(
            "test_server happy path skipped: no built switchboard-desktop or switchboard next to the test binary"
        ),
    }
    stop(&app);
}

#[test]
fn secrets_go_in_and_only_presence_comes_out() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    let status =
        |app: &App<MockRuntime>| call(app, "secret_status", json!({"names": ["TOKEN"]})).unwrap();

    assert_eq!(status(&app), json!({"TOKEN": false}));
    call(
        &app,
        "set_secret",
        json!({"name": "TOKEN", "value": "s3cret-value"}),
    )
    .unwrap();
    assert_eq!(status(&app), json!({"TOKEN": true}));
    assert!(!state(&app).to_string().contains("s3cret-value"));
    call(&app, "delete_secret", json!({"name": "TOKEN"})).unwrap();
    assert_eq!(status(&app), json!({"TOKEN": false}));
    assert_eq!(
        refused(&app, "set_secret", json!({"name": "", "value": "v"})),
        "invalid"
    );
    assert_eq!(
        refused(&app, "set_secret", json!({"name": "T", "value": ""})),
        "invalid"
    );
    assert_eq!(
        refused(&app, "delete_secret", json!({"name": " "})),
        "invalid"
    );
    assert_eq!(
        refused(&app, "secret_status", json!({"names": [""]})),
        "invalid"
    );
    stop(&app);
}

/// Core's secret-name rule reaches the window: the webview can neither overwrite, delete
/// nor probe the proxy's own key, nor save a server whose config references it.
#[test]
fn the_window_cannot_touch_the_proxys_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    let key = call(&app, "api_key", json!({})).unwrap();
    for (cmd, args) in [
        (
            "set_secret",
            json!({"name": "api-key", "value": "overwritten"}),
        ),
        ("delete_secret", json!({"name": "api-key"})),
        ("secret_status", json!({"names": ["api-key"]})),
    ] {
        assert_eq!(refused(&app, cmd, args), "invalid", "{cmd}");
    }
    let leak = json!({"name": "leak", "server": {"command": "env",
                      "env": {"K": {"secret": "api-key"}}}});
    assert!(call(&app, "save_server", leak).is_err());
    assert!(!state(&app).to_string().contains("leak"));
    assert_eq!(call(&app, "api_key", json!({})).unwrap(), key);
    stop(&app);
}

#[test]
fn server_logs_of_known_servers_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    assert_eq!(
        call(&app, "server_logs", json!({"name": "demo"})).unwrap(),
        json!([])
    );
    assert_eq!(
        refused(&app, "server_logs", json!({"name": "nope"})),
        "unknown_server"
    );
    stop(&app);
}

#[test]
fn an_explicit_key_is_shown_but_not_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    assert_eq!(call(&app, "api_key", json!({})).unwrap(), json!(KEY));
    assert_eq!(refused(&app, "rotate_key", json!({})), "keychain");
    stop(&app);
}

#[test]
fn a_stored_key_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(&dir, 0);
    launch.startup.key = KeyChoice::Keychain; // generated into the (memory) keychain
    let app = started_app(&launch);
    let before = call(&app, "api_key", json!({})).unwrap();
    assert!(before.as_str().is_some_and(|k| !k.is_empty()), "{before}");
    call(&app, "rotate_key", json!({})).unwrap();
    let after = call(&app, "api_key", json!({})).unwrap();
    assert!(after.is_string() && after != before, "{before} {after}");
    stop(&app);
}

#[test]
fn start_at_login_writes_an_autostart_entry() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);
    let entry = dir
        .path()
        .join("autostart")
        .join(crate::autostart::ENTRY_FILE);

    call(&app, "set_start_at_login", json!({"enabled": true})).unwrap();
    assert!(entry.is_file());
    assert_eq!(state(&app)["settings"]["startAtLogin"], true);
    call(&app, "set_start_at_login", json!({"enabled": false})).unwrap();
    assert!(!entry.exists());
    assert_eq!(state(&app)["settings"]["startAtLogin"], false);
    stop(&app);

    let dir = tempfile::tempdir().unwrap();
    let mut launch = crate::tests::launch(&dir, 0);
    launch.autostart_dir = None;
    let app = started_app(&launch);
    assert_eq!(
        refused(&app, "set_start_at_login", json!({"enabled": true})),
        "unsupported"
    );
    stop(&app);
}

#[test]
fn claude_desktop_setup_names_the_config_and_port_given_at_launch() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(&dir, 0);
    launch.startup.config_source = ConfigSource::Env;
    launch.startup.port = Some(PortOverride {
        port: 0,
        source: PortSource::Env,
    });
    let app = started_app(&launch);
    let port = app
        .state::<HubSlot>()
        .running()
        .unwrap()
        .local_addr()
        .port();
    let setup = call(
        &app,
        "client_setup",
        json!({"name": "demo", "reveal": false}),
    )
    .unwrap();
    let desktop: Value = serde_json::from_str(setup["claudeDesktop"].as_str().unwrap()).unwrap();
    assert_eq!(
        desktop["mcpServers"]["demo"]["args"],
        json!([
            "connect",
            "--config",
            launch.startup.config_path.to_string_lossy(),
            "--port",
            port.to_string(),
            "demo"
        ])
    );
    stop(&app);
}

#[test]
fn client_setup_reveals_the_key_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch_on_the_config_port(&dir));
    let url = server(&state(&app), "demo")["mcpUrl"]
        .as_str()
        .unwrap()
        .to_owned();

    let hidden = call(
        &app,
        "client_setup",
        json!({"name": "demo", "reveal": false}),
    )
    .unwrap();
    assert_eq!(
        hidden["claudeCode"],
        format!(
            "claude mcp add --transport http demo {url} --header \"Authorization: Bearer <your Switchboard API key>\""
        )
    );
    assert!(!hidden.to_string().contains(KEY), "{hidden}");
    for client in ["cursor", "vscode", "windsurf", "claudeDesktop"] {
        let snippet: Value = serde_json::from_str(hidden[client].as_str().unwrap()).unwrap();
        assert!(snippet.is_object(), "{client}: {snippet}");
    }
    let desktop: Value = serde_json::from_str(hidden["claudeDesktop"].as_str().unwrap()).unwrap();
    assert_eq!(
        desktop["mcpServers"]["demo"]["args"],
        json!(["connect", "demo"])
    );

    let shown = call(
        &app,
        "client_setup",
        json!({"name": "demo", "reveal": true}),
    )
    .unwrap();
    assert!(
        shown["cursor"]
            .as_str()
            .unwrap()
            .contains(&format!("Bearer {KEY}")),
        "{shown}"
    );
    assert_eq!(
        refused(
            &app,
            "client_setup",
            json!({"name": "nope", "reveal": false})
        ),
        "unknown_server"
    );
    stop(&app);
}

#[test]
fn client_setup_for_the_aggregate_bridges_claude_desktop_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch_on_the_config_port(&dir));
    let url = state(&app)["aggregate"]["mcpUrl"]
        .as_str()
        .unwrap()
        .to_owned();

    let setup = call(&app, "client_setup", json!({"reveal": false})).unwrap();
    assert_eq!(
        setup["claudeCode"],
        format!(
            "claude mcp add --transport http switchboard {url} --header \"Authorization: Bearer <your Switchboard API key>\""
        )
    );
    let desktop: Value = serde_json::from_str(setup["claudeDesktop"].as_str().unwrap()).unwrap();
    assert_eq!(
        desktop["mcpServers"]["switchboard"]["args"],
        json!(["connect"])
    );
    let shown = call(&app, "client_setup", json!({"reveal": true})).unwrap();
    assert!(shown["vscode"].as_str().unwrap().contains(KEY), "{shown}");
    assert_eq!(
        refused(
            &app,
            "client_setup",
            json!({"name": "demo", "profile": "p", "reveal": false})
        ),
        "invalid"
    );
    assert_eq!(
        refused(
            &app,
            "client_setup",
            json!({"profile": "nope", "reveal": false})
        ),
        "unknown_profile"
    );
    stop(&app);
}

/// The tools of `tools` for `args`, as `(server, name, exposed, enabled)`.
fn tool_rows(app: &App<MockRuntime>, args: Value) -> (Vec<(String, String, Value, bool)>, Value) {
    let listed = call(app, "tools", args).unwrap();
    let rows = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["server"].as_str().unwrap().to_owned(),
                t["name"].as_str().unwrap().to_owned(),
                t["exposed"].clone(),
                t["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    (rows, listed)
}

fn row(
    server: &str,
    name: &str,
    exposed: Option<&str>,
    enabled: bool,
) -> (String, String, Value, bool) {
    (server.into(), name.into(), json!(exposed), enabled)
}

#[test]
fn tools_are_listed_and_switched_for_every_aggregate_endpoint() {
    let Some(program) = demo_server_program() else {
        eprintln!(
            "tools skipped: no built switchboard-desktop or switchboard next to the test binary"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let launch = launch_with_config(
        &dir,
        json!({"mcpServers": {
            "demo": {"command": program, "args": ["demo-server"]},
            "broken": {"command": "/nonexistent/switchboard-test-program"},
        }}),
    );
    let app = started_app(&launch);

    let (rows, listed) = tool_rows(&app, json!({}));
    assert_eq!(
        rows,
        [
            row("demo", "echo", Some("demo__echo"), true),
            row("demo", "time", Some("demo__time"), true),
        ]
    );
    assert_eq!(listed["visible"], 2, "{listed}");
    assert_eq!(
        listed["tools"][0]["description"], "Repeats the message back.",
        "{listed}"
    );
    let unavailable = listed["unavailable"].as_array().unwrap();
    assert_eq!(unavailable.len(), 1, "{listed}");
    assert_eq!(unavailable[0]["server"], "broken");
    assert!(
        unavailable[0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{listed}"
    );

    // Off in the server's own filter: held back on /mcp, saved, and in the state.
    call(
        &app,
        "set_tool_enabled",
        json!({"server": "demo", "tool": "echo", "enabled": false}),
    )
    .unwrap();
    let (rows, listed) = tool_rows(&app, json!({"server": "demo"}));
    assert_eq!(
        rows,
        [
            row("demo", "echo", None, false),
            row("demo", "time", Some("demo__time"), true),
        ]
    );
    assert_eq!(listed["visible"], 1, "{listed}");
    assert_eq!(listed["unavailable"], json!([]), "{listed}");
    assert_eq!(
        saved_config(&launch)["mcpServers"]["demo"]["tools"],
        json!({"deny": ["echo"]})
    );
    assert_eq!(
        server(&state(&app), "demo")["config"]["tools"],
        json!({"deny": ["echo"]})
    );

    // A profile's switch is its own, on top of the server's.
    call(
        &app,
        "save_profile",
        json!({"name": "work", "profile": {"servers": {"demo": {"prefix": "d"}}}}),
    )
    .unwrap();
    let (rows, _) = tool_rows(&app, json!({"profile": "work"}));
    assert_eq!(
        rows,
        [
            row("demo", "echo", None, false),
            row("demo", "time", Some("d__time"), true),
        ]
    );
    call(
        &app,
        "set_tool_enabled",
        json!({"profile": "work", "server": "demo", "tool": "time", "enabled": false}),
    )
    .unwrap();
    let (_, listed) = tool_rows(&app, json!({"profile": "work"}));
    assert_eq!(listed["visible"], 0, "{listed}");
    assert_eq!(
        saved_config(&launch)["switchboard"]["profiles"]["work"]["servers"]["demo"],
        json!({"prefix": "d", "tools": {"deny": ["time"]}})
    );
    // ... and leaves /mcp alone.
    assert_eq!(tool_rows(&app, json!({})).1["visible"], 1);

    for (args, code) in [
        (json!({"server": "nope"}), "unknown_server"),
        (json!({"profile": "nope"}), "unknown_profile"),
    ] {
        assert_eq!(refused(&app, "tools", args), code);
    }
    for (args, code) in [
        (
            json!({"server": "nope", "tool": "echo", "enabled": false}),
            "unknown_server",
        ),
        (
            json!({"profile": "nope", "server": "demo", "tool": "echo", "enabled": false}),
            "unknown_profile",
        ),
        (
            json!({"profile": "work", "server": "broken", "tool": "x", "enabled": false}),
            "invalid",
        ),
    ] {
        assert_eq!(refused(&app, "set_tool_enabled", args), code);
    }
    stop(&app);
}

#[test]
fn profiles_are_saved_and_removed_and_their_key_only_leaves_through_copy() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);
    let listening = state(&app)["listening"].as_str().unwrap().to_owned();

    let profile = json!({"servers": {"demo": {}}, "ownKey": true});
    call(
        &app,
        "save_profile",
        json!({"name": "work", "profile": profile}),
    )
    .unwrap();
    assert_eq!(
        state(&app)["profiles"],
        json!([{"name": "work", "servers": ["demo"], "ownKey": true,
                "mcpUrl": format!("{listening}/profiles/work/mcp"),
                "sseUrl": format!("{listening}/profiles/work/sse"),
                "config": profile}])
    );
    assert_eq!(
        saved_config(&launch)["switchboard"]["profiles"]["work"],
        profile
    );

    let key = call(&app, "profile_key", json!({"name": "work"})).unwrap();
    let key = key.as_str().unwrap().to_owned();
    assert!(!key.is_empty() && key != KEY, "{key}");
    assert!(!state(&app).to_string().contains(&key));
    // Its snippets carry its own key, and only when revealed.
    let hidden = call(
        &app,
        "client_setup",
        json!({"profile": "work", "reveal": false}),
    )
    .unwrap();
    assert!(!hidden.to_string().contains(&key), "{hidden}");
    assert_eq!(
        hidden["claudeCode"],
        format!(
            "claude mcp add --transport http switchboard-work {listening}/profiles/work/mcp --header \"Authorization: Bearer <the key of the Switchboard profile work>\""
        )
    );
    assert_eq!(
        hidden["claudeDesktop"],
        Value::Null,
        "no bridge to a profile"
    );
    let shown = call(
        &app,
        "client_setup",
        json!({"profile": "work", "reveal": true}),
    )
    .unwrap();
    assert!(
        shown["cursor"]
            .as_str()
            .unwrap()
            .contains(&format!("Bearer {key}")),
        "{shown}"
    );

    call(&app, "rotate_profile_key", json!({"name": "work"})).unwrap();
    let rotated = call(&app, "profile_key", json!({"name": "work"})).unwrap();
    assert!(rotated.is_string() && rotated != json!(key), "{rotated}");

    // Without a key of its own, there is nothing to copy or rotate, and the API key goes
    // into its snippets.
    call(
        &app,
        "save_profile",
        json!({"name": "work", "profile": {"servers": {"demo": {}}}}),
    )
    .unwrap();
    assert_eq!(state(&app)["profiles"][0]["ownKey"], false);
    assert_eq!(
        refused(&app, "profile_key", json!({"name": "work"})),
        "invalid"
    );
    assert_eq!(
        refused(&app, "rotate_profile_key", json!({"name": "work"})),
        "invalid"
    );
    let shown = call(
        &app,
        "client_setup",
        json!({"profile": "work", "reveal": true}),
    )
    .unwrap();
    assert!(shown["cursor"].as_str().unwrap().contains(KEY), "{shown}");

    assert_eq!(
        refused(
            &app,
            "save_profile",
            json!({"name": "bad name", "profile": {"servers": {}}})
        ),
        "invalid"
    );
    call(&app, "remove_profile", json!({"name": "work"})).unwrap();
    assert_eq!(state(&app)["profiles"], json!([]));
    assert!(saved_config(&launch)["switchboard"]["profiles"].is_null());
    for cmd in ["remove_profile", "profile_key", "rotate_profile_key"] {
        assert_eq!(
            refused(&app, cmd, json!({"name": "work"})),
            "unknown_profile",
            "{cmd}"
        );
    }
    stop(&app);
}

#[test]
fn every_command_says_when_the_core_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = started_app(&launch(&dir, taken.local_addr().unwrap().port()));
    let server = json!({"command": "x"});
    for (cmd, args) in [
        ("get_state", json!({})),
        ("set_proxy_enabled", json!({"enabled": true})),
        ("set_port", json!({"port": 4000})),
        ("set_auth_required", json!({"required": false})),
        (
            "set_server_enabled",
            json!({"name": "demo", "enabled": true}),
        ),
        ("save_server", json!({"name": "x", "server": server})),
        ("remove_server", json!({"name": "x"})),
        ("test_server", json!({"name": "x", "server": server})),
        ("server_logs", json!({"name": "demo"})),
        ("secret_status", json!({"names": ["A"]})),
        ("set_secret", json!({"name": "A", "value": "v"})),
        ("delete_secret", json!({"name": "A"})),
        ("api_key", json!({})),
        ("rotate_key", json!({})),
        ("save_query_auth", json!({"enabled": false, "origins": []})),
        ("client_setup", json!({"name": "demo", "reveal": false})),
        ("tools", json!({})),
        (
            "set_tool_enabled",
            json!({"server": "demo", "tool": "echo", "enabled": false}),
        ),
        (
            "save_profile",
            json!({"name": "p", "profile": {"servers": {}}}),
        ),
        ("remove_profile", json!({"name": "p"})),
        ("profile_key", json!({"name": "p"})),
        ("rotate_profile_key", json!({"name": "p"})),
        ("import_preview", json!({})),
        ("import_servers", json!({"chosen": []})),
        ("client_list", json!({})),
        (
            "client_connect_preview",
            json!({"client": "cursor", "scope": "user", "turnOffImported": false}),
        ),
        ("client_connect_apply", json!({"path": "/x/mcp.json"})),
        (
            "client_undo",
            json!({"client": "cursor", "scope": "user", "force": false}),
        ),
        ("sign_in", json!({"name": "fx"})),
        ("sign_out", json!({"name": "fx"})),
        ("auth_discovery", json!({"name": "fx"})),
    ] {
        assert_eq!(refused(&app, cmd, args), "not_running", "{cmd}");
    }
}

#[test]
fn state_changes_reach_the_webview_as_events() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch(&dir, 0));
    let (sender, receiver) = std::sync::mpsc::channel::<Value>();
    tauri::Listener::listen_any(&app, STATE_CHANGED_EVENT, move |event| {
        let _ = sender.send(serde_json::from_str(event.payload()).unwrap());
    });
    let hub = app.hub().unwrap();
    tauri::async_runtime::spawn(crate::publish_changes(app.handle().clone(), hub));

    let first = receiver
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(first["proxyEnabled"], true, "{first}");
    call(&app, "set_proxy_enabled", json!({"enabled": false})).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let event = receiver
            .recv_timeout(left)
            .expect("no state-changed with the proxy off");
        if event["proxyEnabled"] == false {
            assert_eq!(event, state(&app));
            break;
        }
    }
    stop(&app);
}

// === other clients' configs ===

/// A token as a person pastes it into a client's config.
const CLIENT_TOKEN: &str = "ghp_desktopTestToken0123456789abcdefXYZ";

/// Writes `text` at `path` under the launch's fake home; returns the full path.
fn client_file(launch: &Launch, path: &str, text: &str) -> std::path::PathBuf {
    let path = launch.places.as_ref().unwrap().home.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Cursor's user config with a GitHub server whose token is written in plaintext.
fn cursor_config() -> String {
    format!(
        "{{\n    \"mcpServers\": {{\n        \"github\": {{\n            \"command\": \"npx\",\n            \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"],\n            \"env\": {{\"GITHUB_TOKEN\": \"{CLIENT_TOKEN}\", \"LOG_LEVEL\": \"debug\"}}\n        }}\n    }}\n}}\n"
    )
}

fn candidate<'a>(preview: &'a Value, client: &str, name: &str) -> &'a Value {
    preview["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["from"]["client"] == client && c["found"]["name"] == name)
        .unwrap_or_else(|| panic!("no {client} server {name} in {preview}"))
}

#[test]
fn other_clients_servers_are_previewed_without_secret_values_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let cursor = client_file(&launch, ".cursor/mcp.json", &cursor_config());
    client_file(
        &launch,
        ".config/Claude/claude_desktop_config.json",
        r#"{"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
            "remote": {"url": "https://mcp.example.com/mcp",
                       "headers": {"Authorization": "Bearer ${env:EXAMPLE_TOKEN}"}}
        }}"#,
    );
    client_file(&launch, ".lmstudio/mcp.json", "{\n  \"mcpServers\": {\n");
    let app = started_app(&launch);

    let preview = call(&app, "import_preview", json!({})).unwrap();
    assert!(!preview.to_string().contains(CLIENT_TOKEN), "{preview}");
    assert_eq!(preview["titles"]["claude-desktop"], "Claude Desktop");
    let github = candidate(&preview, "cursor", "github");
    assert_eq!(github["from"]["path"], json!(cursor));
    assert_eq!(github["from"]["scope"], "user");
    assert_eq!(
        (github["importable"].clone(), github["name"].clone()),
        (json!(true), json!("github"))
    );
    assert_eq!(github["found"]["kind"], "stdio");
    assert_eq!(github["found"]["command"], "npx");
    assert_eq!(
        github["found"]["env"],
        json!([
            {"name": "GITHUB_TOKEN", "class": "secret", "shown": null},
            {"name": "LOG_LEVEL", "class": "plain", "shown": "debug"},
        ])
    );
    assert_eq!(
        github["secrets"],
        json!([{"of": "env GITHUB_TOKEN", "secret": "github.GITHUB_TOKEN",
                "needsValue": false, "placeholder": null}])
    );
    let remote = candidate(&preview, "claude-desktop", "remote");
    assert_eq!(remote["found"]["headers"][0]["class"], "placeholder");
    assert_eq!(remote["secrets"][0]["needsValue"], true);
    candidate(&preview, "claude-desktop", "files");
    let unreadable = preview["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{preview}");
    assert!(
        unreadable[0]["message"].as_str().unwrap().contains("line "),
        "{preview}"
    );

    // One client only.
    let only = call(&app, "import_preview", json!({"from": "cursor"})).unwrap();
    assert_eq!(only["candidates"].as_array().unwrap().len(), 1, "{only}");
    assert_eq!(
        refused(&app, "import_preview", json!({"from": "nope"})),
        "invalid"
    );

    // Imported: the token into the keychain, the config with its name only.
    let report = call(
        &app,
        "import_servers",
        json!({"chosen": [
            {"path": cursor, "name": "github"},
            {"path": cursor, "name": "missing"},
        ]}),
    )
    .unwrap();
    assert_eq!(report["imported"], json!(["github"]), "{report}");
    assert_eq!(report["failed"][0][0], "missing", "{report}");
    assert_eq!(report["needsValues"], json!([]), "{report}");
    assert_eq!(
        call(
            &app,
            "secret_status",
            json!({"names": ["github.GITHUB_TOKEN"]})
        )
        .unwrap(),
        json!({"github.GITHUB_TOKEN": true})
    );
    let state = state(&app);
    assert_eq!(
        server(&state, "github")["config"]["env"],
        json!({"GITHUB_TOKEN": {"secret": "github.GITHUB_TOKEN"}, "LOG_LEVEL": "debug"})
    );
    assert!(!state.to_string().contains(CLIENT_TOKEN));
    let written = std::fs::read_to_string(&launch.startup.config_path).unwrap();
    assert!(!written.contains(CLIENT_TOKEN), "{written}");

    // A value the client filled in itself is left for the person to set.
    let report = call(
        &app,
        "import_servers",
        json!({"chosen": [{"path": launch.places.as_ref().unwrap().config_dir
                               .join("Claude/claude_desktop_config.json"),
                           "name": "remote"}]}),
    )
    .unwrap();
    assert_eq!(report["needsValues"], json!(["remote.Authorization"]));

    // Found again, it is not imported twice.
    let again = call(&app, "import_preview", json!({})).unwrap();
    let github = candidate(&again, "cursor", "github");
    assert_eq!(github["importable"], false);
    assert_eq!(github["conflict"], "already in Switchboard as 'github'");
    stop(&app);
}

fn client_state(app: &App<MockRuntime>, client: &str) -> Value {
    let listed = call(app, "client_list", json!({})).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"]["client"] == client)
        .cloned()
        .unwrap_or_else(|| panic!("no {client} in {listed}"))
}

fn connect_preview(app: &App<MockRuntime>, client: &str, turn_off: bool) -> Value {
    call(
        app,
        "client_connect_preview",
        json!({"client": client, "scope": "user", "turnOffImported": turn_off}),
    )
    .unwrap()
}

#[test]
fn a_client_is_connected_as_previewed_and_undone_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let original = cursor_config();
    let cursor = client_file(&launch, ".cursor/mcp.json", &original);
    let app = started_app(&launch);
    let url = state(&app)["aggregate"]["mcpUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = client_state(&app, "cursor");
    assert_eq!(listed["title"], "Cursor");
    assert_eq!(listed["state"], "not-connected");
    assert_eq!(listed["servers"], 1);
    let apply = json!({ "path": cursor });
    assert_eq!(
        refused(&app, "client_connect_apply", apply.clone()),
        "invalid"
    );

    // Its GitHub server is Switchboard's now: connecting takes the client's own copy out,
    // and the diff shows that without the token.
    call(
        &app,
        "import_servers",
        json!({"chosen": [{"path": cursor, "name": "github"}]}),
    )
    .unwrap();
    let plan = connect_preview(&app, "cursor", true);
    let diff = plan["diff"].as_str().unwrap();
    assert_eq!(plan["entry"], "switchboard");
    assert_eq!(plan["changes"], true);
    assert_eq!(plan["turnedOff"], json!(["github"]));
    assert!(plan["note"].as_str().unwrap().contains("restart"), "{plan}");
    assert!(diff.contains(&url), "{diff}");
    assert!(diff.contains("<the Switchboard key>"), "{diff}");
    assert!(diff.contains("-            \"env\""), "{diff}");
    assert!(
        diff.contains(switchboard_core::clients::connect::SECRET_SHOWN_AS),
        "{diff}"
    );
    assert!(!plan.to_string().contains(CLIENT_TOKEN), "{plan}");
    assert!(!plan.to_string().contains(KEY), "{plan}");
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), original);

    call(&app, "client_connect_apply", apply.clone()).unwrap();
    let connected: Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(
        connected["mcpServers"],
        json!({"switchboard": {"url": url, "headers": {"Authorization": format!("Bearer {KEY}")}}})
    );
    assert_eq!(client_state(&app, "cursor")["state"], "connected");
    // Written once: another Confirm needs another preview.
    assert_eq!(
        refused(&app, "client_connect_apply", apply.clone()),
        "invalid"
    );

    let undo = json!({"client": "cursor", "scope": "user", "force": false});
    call(&app, "client_undo", undo.clone()).unwrap();
    assert_eq!(std::fs::read(&cursor).unwrap(), original.as_bytes());
    assert_eq!(client_state(&app, "cursor")["state"], "not-connected");

    // A file that changes after the preview is not written.
    connect_preview(&app, "cursor", false);
    std::fs::write(&cursor, format!("{original} ")).unwrap();
    let error = call(&app, "client_connect_apply", apply.clone()).unwrap_err();
    assert_eq!(error["code"], "invalid", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("changed since the preview"),
        "{error}"
    );
    std::fs::write(&cursor, &original).unwrap();

    // Changed by hand after the connect: undo asks for force.
    connect_preview(&app, "cursor", false);
    call(&app, "client_connect_apply", apply).unwrap();
    let by_hand = format!("{} ", std::fs::read_to_string(&cursor).unwrap());
    std::fs::write(&cursor, by_hand).unwrap();
    assert_eq!(client_state(&app, "cursor")["state"], "changed-since");
    assert_eq!(refused(&app, "client_undo", undo), "invalid");
    call(
        &app,
        "client_undo",
        json!({"client": "cursor", "scope": "user", "force": true}),
    )
    .unwrap();
    assert_eq!(std::fs::read(&cursor).unwrap(), original.as_bytes());
    stop(&app);
}

#[test]
fn stdio_only_clients_are_connected_through_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    let app = started_app(&launch);
    // No file yet: connecting creates it.
    let plan = connect_preview(&app, "claude-desktop", false);
    assert_eq!(plan["exists"], false);
    let diff = plan["diff"].as_str().unwrap();
    // `switchboard` beside this program, else on PATH (as Claude Desktop's snippet says).
    assert!(diff.contains(r#""command": "switchboard""#), "{diff}");
    assert!(diff.contains(r#""connect""#), "{diff}");
    assert!(!diff.contains(KEY), "{diff}");

    for (args, code) in [
        (
            json!({"client": "nope", "scope": "user", "turnOffImported": false}),
            "invalid",
        ),
        (
            json!({"client": "cursor", "scope": "global", "turnOffImported": false}),
            "invalid",
        ),
        (
            json!({"client": "cursor", "scope": "user", "profile": "nope", "turnOffImported": false}),
            "unknown_profile",
        ),
    ] {
        assert_eq!(refused(&app, "client_connect_preview", args), code);
    }
    stop(&app);
}

#[test]
fn without_a_home_there_are_no_other_clients_to_look_at() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(&dir, 0);
    launch.places = None;
    let app = started_app(&launch);
    assert_eq!(refused(&app, "import_preview", json!({})), "unsupported");
    assert_eq!(refused(&app, "client_list", json!({})), "unsupported");
    stop(&app);
}

// === OAuth sign-in ===

/// The OAuth fixture (`tests/src/bin/oauth_fixture.rs`: an MCP server that takes only OAuth,
/// with its own authorization server), if cargo built it; killed when dropped.
struct OAuthFixture {
    child: std::process::Child,
    base: String,
}

impl OAuthFixture {
    fn start() -> Option<OAuthFixture> {
        use std::io::BufRead;
        let exe = std::env::current_exe().ok()?;
        let program = exe.parent()?.parent()?.join("oauth-fixture");
        if !program.is_file() {
            return None;
        }
        let mut child = std::process::Command::new(program)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("oauth-fixture said {line:?}"))
            .to_owned();
        Some(OAuthFixture { child, base })
    }
}

impl Drop for OAuthFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls the state until `check` holds for server `name` (the authorizer reads the keychain
/// in the background); panics with the last state after 10 s.
fn wait_for_server(app: &App<MockRuntime>, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let state = state(app);
        let found = server(&state, name).clone();
        if check(&found) {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server {name} never got there: {found}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sign_in_is_for_oauth_servers_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch_with_config(
        &dir,
        json!({"mcpServers": {
            "local": {"command": "/nonexistent/program"},
            "keyed": {"url": "https://mcp.example.com/mcp",
                      "auth": {"type": "bearer", "secret": "EXAMPLE_TOKEN"}},
        }}),
    ));
    for name in ["local", "keyed"] {
        for cmd in ["sign_in", "sign_out"] {
            let error = call(&app, cmd, json!({"name": name})).unwrap_err();
            assert_eq!(error["code"], "failed", "{cmd} {name}: {error}");
            assert_eq!(
                error["message"],
                format!(
                    "remote server '{name}': does not use OAuth (its auth type must be oauth to sign in)"
                ),
                "{cmd} {name}"
            );
        }
        let error = call(&app, "auth_discovery", json!({"name": name})).unwrap_err();
        assert_eq!(error["code"], "test_failed", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("does not use OAuth"),
            "{error}"
        );
    }
    for cmd in ["sign_in", "sign_out", "auth_discovery"] {
        assert_eq!(
            refused(&app, cmd, json!({"name": "nope"})),
            "unknown_server",
            "{cmd}"
        );
    }
    // The state says nothing of a sign-in where there is none.
    let state = state(&app);
    assert_eq!(server(&state, "local")["auth"], Value::Null);
    assert_eq!(server(&state, "keyed")["auth"], Value::Null);
    stop(&app);
}

#[test]
fn the_state_carries_an_oauth_servers_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/mcp", closed_port());
    let app = started_app(&launch_with_config(
        &dir,
        json!({"mcpServers": {
            "people": {"url": url, "auth": {"type": "oauth"}},
            "machine": {"url": url, "auth": {"type": "oauth", "clientId": "switchboard",
                        "clientSecret": "machine.secret", "grant": "client-credentials"}},
            "off": {"url": url, "auth": {"type": "oauth"}, "enabled": false},
        }}),
    ));
    let people = wait_for_server(&app, "people", |s| s["auth"]["state"] == "signed-out");
    assert_eq!(people["state"], "needs-sign-in", "{people}");
    assert_eq!(
        people["auth"],
        json!({"state": "signed-out", "refreshable": false, "machine": false}),
        "no token, no account: {people}"
    );
    let machine = wait_for_server(&app, "machine", |s| s["auth"]["state"] == "signed-out");
    assert_eq!(machine["auth"]["machine"], true, "{machine}");
    // Turned off, it still says where its sign-in stands (one can sign in before turning it on).
    let off = wait_for_server(&app, "off", |s| s["auth"]["state"] == "signed-out");
    assert_eq!(off["state"], "disabled", "{off}");

    // Discovery of a server that cannot be reached fails with core's words; the form's own
    // definition is looked at before it is saved.
    let error = call(&app, "auth_discovery", json!({"name": "people"})).unwrap_err();
    assert_eq!(error["code"], "test_failed", "{error}");
    let unsaved = json!({"url": url, "auth": {"type": "oauth", "scope": "x"}});
    let error = call(
        &app,
        "auth_discovery",
        json!({"name": "new", "server": unsaved}),
    )
    .unwrap_err();
    assert_eq!(error["code"], "test_failed", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("remote server 'new': "),
        "{error}"
    );
    // A machine signs in by itself.
    call(
        &app,
        "set_secret",
        json!({"name": "machine.secret", "value": "machine-secret-value"}),
    )
    .unwrap();
    let error = call(&app, "sign_in", json!({"name": "machine"})).unwrap_err();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("client-credentials grant: no one signs in"),
        "{error}"
    );
    stop(&app);
}

#[test]
fn the_webview_may_not_open_urls_itself() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(&dir, 0);
    // The opener plugin as `run` adds it: its Rust API is there, its commands are not
    // granted to any window.
    let builder = mock_builder().plugin(
        tauri_plugin_opener::Builder::new()
            .open_js_links_on_click(false)
            .build(),
    );
    let app = build_app(builder, launch.clone()).unwrap();
    tauri::async_runtime::block_on(app.state::<HubSlot>().start(&launch));
    for cmd in [
        "plugin:opener|open_url",
        "plugin:opener|open_path",
        "plugin:opener|reveal_item_in_dir",
    ] {
        let error = call(
            &app,
            cmd,
            json!({"url": "https://example.com", "path": "/etc/passwd"}),
        )
        .unwrap_err();
        // Refused by the ACL (the plugin is there, its permissions are granted to no one).
        assert!(
            error
                .as_str()
                .is_some_and(|e| e.contains("not allowed. Permissions associated")),
            "{cmd}: {error}"
        );
    }
    stop(&app);
}

/// Collects the `sign-in-finished` events.
fn sign_in_events(app: &App<MockRuntime>) -> std::sync::mpsc::Receiver<Value> {
    let (sender, receiver) = std::sync::mpsc::channel::<Value>();
    tauri::Listener::listen_any(app, crate::sign_in::SIGN_IN_FINISHED_EVENT, move |event| {
        let _ = sender.send(serde_json::from_str(event.payload()).unwrap());
    });
    receiver
}

/// What the person's browser does: follows the authorization URL (the fixture approves at
/// once) and its redirect to Switchboard's loopback listener.
fn follow_in_browser(url: &str) -> Result<u16, String> {
    tauri::async_runtime::block_on(async {
        reqwest::get(url)
            .await
            .map(|response| response.status().as_u16())
            .map_err(|e| e.to_string())
    })
}

#[test]
fn signing_in_follows_the_browser_and_signing_out_ends_it() {
    let Some(fixture) = OAuthFixture::start() else {
        eprintln!("sign-in skipped: no built oauth-fixture next to the test binary");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = started_app(&launch_with_config(
        &dir,
        json!({"mcpServers": {
            "fx": {"url": format!("{}/mcp", fixture.base), "auth": {"type": "oauth"}},
        }}),
    ));
    let events = sign_in_events(&app);
    wait_for_server(&app, "fx", |s| s["state"] == "needs-sign-in");

    let discovery = call(&app, "auth_discovery", json!({"name": "fx"})).unwrap();
    assert_eq!(discovery["issuer"], format!("{}/as", fixture.base));
    assert_eq!(discovery["registration"], "dynamic client registration");
    assert!(
        discovery["steps"].as_array().unwrap().len() > 1,
        "{discovery}"
    );

    // A first sign-in, replaced by a second one before its browser came back: its
    // listener is gone, and it says nothing.
    let first = call(&app, "sign_in", json!({"name": "fx"})).unwrap();
    let second = call(&app, "sign_in", json!({"name": "fx"})).unwrap();
    let host = fixture.base.trim_start_matches("http://");
    for view in [&first, &second] {
        assert_eq!(view["host"], host, "{view}");
        let url = view["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/as/authorize?", fixture.base)),
            "{view}"
        );
        assert!(!view["steps"].as_array().unwrap().is_empty(), "{view}");
        // The mock runtime has no browser opener: the window shows the address instead.
        assert_eq!(view["opened"], false, "{view}");
    }
    assert_ne!(first["url"], second["url"]);
    assert!(
        follow_in_browser(first["url"].as_str().unwrap()).is_err(),
        "the replaced sign-in still listens"
    );

    assert_eq!(follow_in_browser(second["url"].as_str().unwrap()), Ok(200));
    let finished = events
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("no sign-in-finished");
    assert_eq!(
        finished,
        json!({"name": "fx", "ok": true, "message": "Signed in as ada@example.com"})
    );
    let fx = wait_for_server(&app, "fx", |s| s["auth"]["state"] == "signed-in");
    assert_eq!(fx["auth"]["account"], "ada@example.com", "{fx}");
    assert_eq!(fx["auth"]["issuer"], format!("{}/as", fixture.base));
    assert_eq!(fx["auth"]["refreshable"], true, "{fx}");
    assert!(fx["auth"]["expiresAt"].is_u64(), "{fx}");
    assert_ne!(fx["state"], "needs-sign-in", "{fx}");
    // Never a token in the state.
    assert!(
        !state(&app).to_string().contains("at-"),
        "a token in the state"
    );

    call(&app, "sign_out", json!({"name": "fx"})).unwrap();
    let fx = server(&state(&app), "fx").clone();
    assert_eq!(fx["auth"]["state"], "signed-out", "{fx}");
    assert_eq!(fx["state"], "needs-sign-in", "{fx}");
    // The replaced sign-in never reported.
    assert!(events.try_recv().is_err());
    stop(&app);
}

#[test]
fn a_sign_in_that_cannot_start_fails_with_cores_words() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/mcp", closed_port());
    let app = started_app(&launch_with_config(
        &dir,
        json!({"mcpServers": {"gone": {"url": url, "auth": {"type": "oauth"}}}}),
    ));
    // Discovery cannot reach the server: the command itself fails, with core's words.
    let error = call(&app, "sign_in", json!({"name": "gone"})).unwrap_err();
    assert_eq!(error["code"], "failed", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("remote server 'gone': "),
        "{error}"
    );
    stop(&app);
}
