//! The desktop window end to end: WebKitWebDriver drives the real `switchboard-desktop`
//! binary (TAURI_WEBVIEW_AUTOMATION=true), each case with its own config file and port.
//!
//! Run through `scripts/e2e.sh`, which builds the app and the fixture server, and runs this
//! under xvfb-run + dbus-run-session with a temporary HOME and an unlocked private keyring.
//! Environment: SWITCHBOARD_E2E_APP (the app binary), SWITCHBOARD_E2E_FIXTURE (the stdio
//! fixture server), SWITCHBOARD_E2E_OAUTH_FIXTURE (the OAuth-only remote server with its own
//! authorization server), SWITCHBOARD_API_KEY, optional SWITCHBOARD_E2E_SHOTS (screenshot dir),
//! SWITCHBOARD_E2E_SCRATCH (temp dir), SWITCHBOARD_E2E_ONLY (run cases whose name contains it).
//! Without SWITCHBOARD_E2E_APP (a plain `cargo test --workspace`) it does nothing.
//!
//! Asserts on DOM text, not pixels; screenshots are for the docs.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

type R<T> = Result<T, String>;

trait Ctx<T> {
    fn ctx(self, what: &str) -> R<T>;
}

impl<T, E: std::fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> R<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn env(name: &str) -> R<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn free_port() -> R<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").ctx("bind a free port")?;
    Ok(listener.local_addr().ctx("local_addr")?.port())
}

fn log(message: &str) {
    eprintln!("[e2e] {message}");
}

// ====================================================================== the app session ===

struct App {
    client: Client,
    driver: Child,
    port: u16,
    dir: PathBuf,
}

/// The case's own directory in the scratch dir (its config, the driver's log, …).
fn case_dir(case: &str) -> R<PathBuf> {
    let scratch = PathBuf::from(env("SWITCHBOARD_E2E_SCRATCH").unwrap_or_else(|_| "/tmp".into()));
    let dir = scratch.join(format!("case-{case}"));
    std::fs::create_dir_all(&dir).ctx("create the case dir")?;
    Ok(dir)
}

impl App {
    /// Starts WebKitWebDriver with the app's environment, then a session, which starts the
    /// app. `config` is written to a fresh config file first.
    async fn launch(case: &str, config: Value) -> R<App> {
        App::launch_with(case, config, &[]).await
    }

    /// As [`App::launch`], with `envs` added to the app's environment (the driver passes
    /// its own on to the app).
    async fn launch_with(case: &str, config: Value, envs: &[(&str, String)]) -> R<App> {
        let dir = case_dir(case)?;
        let config_path = dir.join("config.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config).ctx("config json")?,
        )
        .ctx("write the config")?;
        // WebKitWebDriver occasionally never answers the new-session request on this
        // loaded machine (CI once waited out a whole case on it): a bounded wait, and one
        // more try with a fresh driver.
        // A case's app that outlived its case would take the next launch for a second
        // instance (which only hands over and exits): no session would ever start.
        end_leftover_apps();
        let mut attempt = 0;
        let (client, mut guard, port) = loop {
            attempt += 1;
            let port = free_port()?;
            let driver_port = free_port()?;
            // The app's output goes to the driver's log (the secrets case reads it): the
            // log of a failed attempt is kept beside it.
            let log_path = dir.join("driver.log");
            if attempt > 1 {
                let _ = std::fs::rename(&log_path, dir.join("driver-failed-attempt.log"));
            }
            let driver_log = std::fs::File::create(&log_path).ctx("driver log")?;
            let driver = Command::new("WebKitWebDriver")
                .arg(format!("--port={driver_port}"))
                .arg("--host=127.0.0.1")
                .env("TAURI_WEBVIEW_AUTOMATION", "true")
                .env("SWITCHBOARD_CONFIG", &config_path)
                .env("SWITCHBOARD_PORT", port.to_string())
                .envs(envs.iter().map(|(k, v)| (*k, v)))
                .stdin(Stdio::null())
                .stdout(driver_log.try_clone().ctx("driver log")?)
                .stderr(driver_log)
                .spawn()
                .ctx("start WebKitWebDriver")?;
            let guard = DriverGuard(Some(driver));
            let addr = SocketAddr::from(([127, 0, 0, 1], driver_port));
            let deadline = Instant::now() + Duration::from_secs(20);
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if Instant::now() > deadline {
                    return Err("WebKitWebDriver did not listen within 20 s".into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut caps = serde_json::Map::new();
            caps.insert(
                "webkitgtk:browserOptions".into(),
                json!({"binary": env("SWITCHBOARD_E2E_APP")?, "args": []}),
            );
            let session = tokio::time::timeout(
                Duration::from_secs(60),
                ClientBuilder::native()
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{driver_port}")),
            )
            .await;
            match session {
                Ok(Ok(client)) => break (client, guard, port),
                Ok(Err(e)) if attempt >= 2 => {
                    return Err(format!("WebDriver session (starts the app): {e}"));
                }
                Err(_) if attempt >= 2 => {
                    return Err("no WebDriver session (the app) within 60 s, twice".into());
                }
                _ => {
                    log(&format!(
                        "{case}: no WebDriver session on attempt {attempt}; trying again"
                    ));
                    drop(guard);
                    end_leftover_apps();
                }
            }
        };
        let driver = guard.0.take().ok_or("driver gone")?;
        let app = App {
            client,
            driver,
            port,
            dir,
        };
        log(&format!("{case}: app on port {port} (attempt {attempt})"));
        // The window is up and has the state.
        app.wait_js(
            "return document.getElementById('state').textContent === 'Running'",
            30,
        )
        .await
        .map_err(|e| format!("the window never showed 'Running': {e}"))?;
        Ok(app)
    }

    async fn finish(mut self) {
        if let Err(e) = self.client.clone().close().await {
            log(&format!("closing the session: {e}"));
        }
        terminate(&mut self.driver);
        end_leftover_apps();
    }

    // ------------------------------------------------------------------ DOM helpers ---

    async fn js(&self, script: &str, args: Vec<Value>) -> R<Value> {
        self.client
            .execute(script, args)
            .await
            .ctx("execute script")
    }

    /// Polls `script` until it returns something truthy; returns that value.
    async fn wait_js(&self, script: &str, secs: u64) -> R<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let last = match self.client.execute(script, vec![]).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => v,
                Err(e) => Value::String(e.to_string()),
            };
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out after {secs} s waiting for `{script}` (last: {last})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn text(&self, css: &str) -> R<String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                vec![json!(css)],
            )
            .await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {css}"))
    }

    async fn wait_text(&self, css: &str, want: &str, secs: u64) -> R<()> {
        let script = format!(
            "const e = document.querySelector({}); return !!e && e.textContent.trim() === {};",
            json!(css),
            json!(want)
        );
        self.wait_js(&script, secs)
            .await
            .map(|_| ())
            .map_err(|e| format!("{css} never read {want:?} ({e}); now: {:?}", "see DOM"))
    }

    async fn visible(&self, css: &str) -> R<bool> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0;",
                vec![json!(css)],
            )
            .await?;
        Ok(v == json!(true))
    }

    async fn prop_bool(&self, css: &str, prop: &str) -> R<bool> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? !!e[arguments[1]] : null;",
                vec![json!(css), json!(prop)],
            )
            .await?;
        v.as_bool().ok_or_else(|| format!("no element {css}"))
    }

    async fn click(&self, css: &str) -> R<()> {
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .ctx(&format!("find {css}"))?;
        element.click().await.ctx(&format!("click {css}"))
    }

    async fn type_into(&self, css: &str, text: &str) -> R<()> {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .ctx(&format!("find {css}"))?;
        element.clear().await.ctx(&format!("clear {css}"))?;
        element
            .send_keys(text)
            .await
            .ctx(&format!("type into {css}"))
    }

    async fn select(&self, css: &str, value: &str) -> R<()> {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .ctx(&format!("find {css}"))?;
        element
            .select_by_value(value)
            .await
            .ctx(&format!("select {value} in {css}"))?;
        // Make sure the page saw it, whatever the driver did.
        self.js(
            "const e = document.querySelector(arguments[0]); if (e.value !== arguments[1]) { e.value = arguments[1]; } e.dispatchEvent(new Event('change'));",
            vec![json!(css), json!(value)],
        )
        .await?;
        Ok(())
    }

    /// The whole document and every form value: a secret must be in neither.
    async fn assert_not_in_dom(&self, secrets: &[&str], step: &str) -> R<()> {
        let html = self
            .js("return document.documentElement.outerHTML;", vec![])
            .await?;
        let values = self
            .js(
                "return [...document.querySelectorAll('input, textarea, select')].map(e => e.value).join('\\n');",
                vec![],
            )
            .await?;
        let html = html.as_str().unwrap_or_default();
        let values = values.as_str().unwrap_or_default();
        for secret in secrets {
            if html.contains(secret) {
                return Err(format!(
                    "{step}: a secret value is in document.documentElement.outerHTML"
                ));
            }
            if values.contains(secret) {
                return Err(format!("{step}: a secret value is still in a form field"));
            }
        }
        log(&format!("no secret in the DOM after: {step}"));
        Ok(())
    }

    async fn screenshot(&self, name: &str) -> R<()> {
        let Ok(dir) = env("SWITCHBOARD_E2E_SHOTS") else {
            return Ok(());
        };
        // A screenshot right after a DOM change can show the previous frame, and under Xvfb
        // one may show the last frame WebKit painted, long before (the window as it first
        // loaded): a first one, thrown away, makes it paint.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.client.screenshot().await.ctx("screenshot")?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.ctx("screenshot")?;
        let path = Path::new(&dir).join(format!("{name}.png"));
        std::fs::write(&path, png).ctx("write the screenshot")?;
        log(&format!("screenshot {}", path.display()));
        Ok(())
    }

    fn card(&self, server: &str) -> String {
        format!("li.server[data-server=\"{server}\"]")
    }
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false)) && v != &json!("") && v != &json!(0)
}

struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            terminate(child);
        }
    }
}

/// The apps this run's driver started (they carry `TAURI_WEBVIEW_AUTOMATION=true` and this
/// run's HOME) that are still running: SIGTERM, then SIGKILL after 10 s. The app stays in
/// the tray when its window closes, so ending the session alone does not always end it.
fn end_leftover_apps() {
    let home = std::env::var("HOME").unwrap_or_default();
    let ours = |pid: &str| -> bool {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("switchboard-desktop") {
            return false;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        vars.contains(&&b"TAURI_WEBVIEW_AUTOMATION=true"[..])
            && vars.contains(&format!("HOME={home}").as_bytes())
    };
    let running = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| name.chars().all(|c| c.is_ascii_digit()))
                    .filter(|pid| ours(pid))
                    .collect()
            })
            .unwrap_or_default()
    };
    let left = running();
    if left.is_empty() {
        return;
    }
    log(&format!(
        "ending {} app(s) left running: {}",
        left.len(),
        left.join(" ")
    ));
    for pid in &left {
        let _ = Command::new("kill").args(["-TERM", pid]).status();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if running().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in running() {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
}

/// SIGTERM so WebKitWebDriver can end its browser (the app), then SIGKILL if it lingers.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ========================================================================= MCP over HTTP ===

struct Reply {
    status: u16,
    session: Option<String>,
    /// The JSON-RPC message (from a JSON body or the first SSE `data:` line with an id).
    message: Option<Value>,
    body: String,
}

async fn mcp_post(port: u16, server: &str, session: Option<&str>, body: Value) -> R<Reply> {
    let key = env("SWITCHBOARD_API_KEY")?;
    mcp_post_at(port, &format!("/servers/{server}/mcp"), &key, session, body).await
}

/// A POST to the endpoint at `path` (`/mcp`, `/servers/fx/mcp`, …) with `key`.
async fn mcp_post_at(
    port: u16,
    path: &str,
    key: &str,
    session: Option<&str>,
    body: Value,
) -> R<Reply> {
    let http = reqwest::Client::new();
    let mut request = http
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {key}"))
        .timeout(Duration::from_secs(20))
        .body(body.to_string());
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let response = request.send().await.ctx("POST to the endpoint")?;
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.ctx("read the answer")?;
    let message = serde_json::from_str::<Value>(&body).ok().or_else(|| {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|v| v.get("id").is_some())
    });
    Ok(Reply {
        status,
        session,
        message,
        body,
    })
}

fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"switchboard-e2e","version":"1"}}})
}

/// The tool names a new client of the endpoint at `path` is given: initialize,
/// notifications/initialized, tools/list, with `key`.
async fn listed_tools(port: u16, path: &str, key: &str) -> R<Vec<String>> {
    let init = mcp_post_at(port, path, key, None, initialize()).await?;
    if init.status != 200 {
        return Err(format!(
            "initialize on {path}: status {}, body {:.300}",
            init.status, init.body
        ));
    }
    let session = init
        .session
        .ok_or_else(|| format!("initialize on {path}: no mcp-session-id header"))?;
    mcp_post_at(
        port,
        path,
        key,
        Some(&session),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await?;
    let list = mcp_post_at(
        port,
        path,
        key,
        Some(&session),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
    )
    .await?;
    let tools = list
        .message
        .as_ref()
        .and_then(|m| m.pointer("/result/tools"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            format!(
                "tools/list on {path}: status {}, body {:.300}",
                list.status, list.body
            )
        })?;
    Ok(tools
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect())
}

/// initialize, notifications/initialized, tools/call echo; checks the echoed text.
async fn call_echo(port: u16, server: &str, message: &str) -> R<()> {
    let call = call_tool(port, server, "echo", json!({ "message": message })).await?;
    if !call.body.contains(message) {
        return Err(format!(
            "tools/call echo: status {}, body {:.300}",
            call.status, call.body
        ));
    }
    log(&format!("echo through /servers/{server}/mcp: ok"));
    Ok(())
}

/// initialize, notifications/initialized, tools/call `tool`; returns the call's reply.
async fn call_tool(port: u16, server: &str, tool: &str, arguments: Value) -> R<Reply> {
    let init = mcp_post(port, server, None, initialize()).await?;
    let server_info = init
        .message
        .as_ref()
        .and_then(|m| m.pointer("/result/serverInfo"))
        .cloned();
    if init.status != 200 || server_info.is_none() {
        return Err(format!(
            "initialize: status {}, body {:.300}",
            init.status, init.body
        ));
    }
    let session = init.session.ok_or("initialize: no mcp-session-id header")?;
    mcp_post(
        port,
        server,
        Some(&session),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await?;
    mcp_post(
        port,
        server,
        Some(&session),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":tool,"arguments":arguments}}),
    )
    .await
}

// ================================================================================ cases ===

fn empty_config() -> Value {
    json!({"mcpServers": {}})
}

/// Adds a local server running the fixture through the form.
async fn add_fixture_server(app: &App, name: &str) -> R<()> {
    app.click("#add-local").await?;
    app.wait_text("#edit-heading", "Add local server", 5)
        .await?;
    app.type_into("#f-name", name).await?;
    app.type_into("#f-command", &env("SWITCHBOARD_E2E_FIXTURE")?)
        .await?;
    Ok(())
}

async fn save_and_see(app: &App, name: &str) -> R<()> {
    app.click("#save").await?;
    let script = format!(
        "return !!document.querySelector({}) && !document.getElementById('view-servers').hidden;",
        json!(app.card(name))
    );
    app.wait_js(&script, 10).await.map_err(|e| {
        format!(
            "the server did not appear in the list after Save ({e}); save error: {:?}",
            "see #save-error"
        )
    })?;
    Ok(())
}

/// Waits for the card's stats to read one session, whose child was started, and the warm
/// spare started beside it for the next session (relay/spare.rs): two starts. Returns them.
async fn one_session_stats(app: &App, card: &str) -> R<String> {
    let css = format!("{card} .stats");
    let script = format!(
        "const t = document.querySelector({}).textContent; return t.includes('1 session') && t.includes('started 2 times');",
        json!(css)
    );
    match app.wait_js(&script, 10).await {
        Ok(_) => app.text(&css).await,
        Err(_) => Err(format!("{:?}", app.text(&css).await?)),
    }
}

async fn local_server() -> R<()> {
    let app = App::launch("local", empty_config()).await?;
    let result = local_server_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("local").await;
    }
    app.finish().await;
    result
}

async fn local_server_body(app: &App) -> R<()> {
    let name = "fixture";
    add_fixture_server(app, name).await?;
    app.click("#add-arg").await?;
    app.type_into("#args li:last-child input", "--e2e").await?;
    if let Err(e) = save_and_see(app, name).await {
        let why = app.text("#save-error").await.unwrap_or_default();
        return Err(format!("{e}; #save-error: {why}"));
    }
    let card = app.card(name);
    app.wait_text(&format!("{card} .kind"), "local", 5).await?;
    app.wait_text(&format!("{card} .badge"), "idle", 10).await?;
    if !app
        .prop_bool(&format!("{card} .enable-toggle"), "checked")
        .await?
    {
        return Err("the new server's toggle is off".into());
    }
    let url = app.text(&format!("{card} .endpoint-url")).await?;
    let want = format!("http://127.0.0.1:{}/servers/{name}/mcp", app.port);
    if url != want {
        return Err(format!("endpoint URL {url:?}, expected {want:?}"));
    }

    // A client session starts the child: then the UI says "running".
    call_echo(app.port, name, "hello from the e2e").await?;
    app.wait_text(&format!("{card} .badge"), "running", 15)
        .await?;
    let stats = one_session_stats(app, &card)
        .await
        .map_err(|e| format!("stats after one session: {e}"))?;
    log(&format!("the card reads running: {stats}"));
    app.screenshot("servers").await?;

    // Logs open and close.
    app.click(&format!("{card} .show-logs")).await?;
    app.wait_text("#logs-heading", &format!("Logs: {name}"), 5)
        .await?;
    app.click("#logs-close").await?;

    // Off in the UI: the endpoint refuses.
    app.click(&format!("{card} .enable-toggle")).await?;
    app.wait_text(&format!("{card} .badge"), "disabled", 10)
        .await?;
    let refused = mcp_post(app.port, name, None, initialize()).await?;
    let answered = refused
        .message
        .as_ref()
        .and_then(|m| m.pointer("/result/serverInfo"))
        .is_some();
    if answered || (200..300).contains(&refused.status) {
        return Err(format!(
            "the disabled server still answered: status {}, body {:.200}",
            refused.status, refused.body
        ));
    }
    log(&format!(
        "disabled: the endpoint refuses with status {}",
        refused.status
    ));

    // And back on: it serves again.
    app.click(&format!("{card} .enable-toggle")).await?;
    app.wait_js(
        &format!(
            "const b = document.querySelector({}); return !!b && b.textContent !== 'disabled';",
            json!(format!("{card} .badge"))
        ),
        10,
    )
    .await?;
    call_echo(app.port, name, "back on").await?;

    // Narrow window: still usable (no assertions on pixels, a screenshot for the docs).
    if app.client.set_window_size(420, 760).await.is_ok() {
        app.screenshot("servers-narrow").await?;
        let _ = app.client.set_window_size(900, 640).await;
    }
    Ok(())
}

async fn query_gateway() -> R<()> {
    let app = App::launch("query", empty_config()).await?;
    let result = query_gateway_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("query").await;
    }
    app.finish().await;
    result
}

async fn query_gateway_body(app: &App) -> R<()> {
    // Setting off: the option is disabled, with the reason shown.
    app.click("#add-remote").await?;
    app.wait_text("#edit-heading", "Add remote gateway", 5)
        .await?;
    if !app
        .prop_bool("#f-auth option[value=\"query\"]", "disabled")
        .await?
    {
        return Err("'Query parameter (insecure)' is selectable while the setting is off".into());
    }
    if !app.visible("#f-auth-hint").await? {
        return Err("no explanation next to the disabled query option".into());
    }
    log("setting off: the query option is disabled and explained");
    app.click("#cancel").await?;

    // Turn the setting on, for one loopback origin.
    let origin = "http://127.0.0.1:9";
    app.click("#tab-settings").await?;
    app.type_into("#set-origins", origin).await?;
    app.click("#set-query").await?;
    let script = "return document.getElementById('set-query-result').textContent === 'Saved' || document.getElementById('set-query-error').textContent;";
    let saved = app.wait_js(script, 10).await?;
    if saved != json!(true) {
        return Err(format!("save_query_auth failed: {saved}"));
    }
    if !app.prop_bool("#set-query", "checked").await? {
        return Err("the query-auth switch is off after saving".into());
    }
    app.screenshot("settings").await?;

    // Now the option is there, behind a warning and an acknowledgement.
    app.click("#tab-servers").await?;
    app.click("#add-remote").await?;
    app.type_into("#f-name", "keyed").await?;
    app.type_into("#f-url", &format!("{origin}/mcp")).await?;
    if app
        .prop_bool("#f-auth option[value=\"query\"]", "disabled")
        .await?
    {
        return Err("the query option is still disabled with the setting on".into());
    }
    app.select("#f-auth", "query").await?;
    if !app.visible("#query-warning").await? {
        return Err("no warning for query-parameter auth".into());
    }
    let warning = app.text("#query-warning").await?;
    if !warning.contains("keys in URLs leak through logs, proxies and history") {
        return Err(format!("warning text: {warning:?}"));
    }
    let origins = app.text("#query-origins").await?;
    if !origins.contains(origin) {
        return Err(format!("allowed origins shown: {origins:?}"));
    }
    app.type_into("#f-query-param", "api_key").await?;
    if !app.prop_bool("#save", "disabled").await? {
        return Err("Save is enabled before 'I understand' is ticked".into());
    }
    app.js(
        "document.getElementById('f-ack').scrollIntoView({block: 'center'});",
        vec![],
    )
    .await?;
    app.screenshot("add-remote-query").await?;
    app.click("#f-ack").await?;
    if app.prop_bool("#save", "disabled").await? {
        return Err("Save stays disabled after 'I understand'".into());
    }
    if let Err(e) = save_and_see(app, "keyed").await {
        let why = app.text("#save-error").await.unwrap_or_default();
        return Err(format!("{e}; #save-error: {why}"));
    }
    let card = app.card("keyed");
    app.wait_text(&format!("{card} .kind"), "remote", 5).await?;
    log("query gateway saved after the acknowledgement");
    Ok(())
}

async fn secrets() -> R<()> {
    let app = App::launch("secrets", empty_config()).await?;
    let result = secrets_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("secrets").await;
    }
    app.finish().await;
    result
}

async fn secrets_body(app: &App) -> R<()> {
    let nonce = std::process::id();
    let first = format!("first-secret-value-{nonce}");
    let second = format!("second-secret-value-{nonce}");
    let secret_name = format!("e2e-token-{nonce}");
    let all = [first.as_str(), second.as_str()];

    add_fixture_server(app, "withsecret").await?;
    app.click("#add-env-secret").await?;
    let row = "#env li:last-child";
    app.type_into(&format!("{row} .env-key"), "API_TOKEN")
        .await?;
    app.type_into(&format!("{row} .secret-name"), &secret_name)
        .await?;
    // `change` fires when the field loses focus: the status is fetched for the new name.
    app.click(&format!("{row} .secret-value")).await?;
    app.wait_text(&format!("{row} .secret-status"), "not set", 5)
        .await?;
    app.assert_not_in_dom(&all, "before any value").await?;

    // Set: the value goes to the keychain and leaves the page.
    app.type_into(&format!("{row} .secret-value"), &first)
        .await?;
    app.click(&format!("{row} .secret-set")).await?;
    app.wait_text(&format!("{row} .secret-status"), "set", 10)
        .await
        .map_err(|e| format!("{e}; error shown: {:?}", "see .secret-error"))?;
    app.assert_not_in_dom(&all, "set").await?;
    if app.visible(&format!("{row} .secret-value")).await? {
        return Err("the value box stays open once the secret is set".into());
    }

    // Replace.
    app.click(&format!("{row} .secret-replace")).await?;
    app.type_into(&format!("{row} .secret-value"), &second)
        .await?;
    app.assert_not_in_dom(&[first.as_str()], "typing a replacement")
        .await?;
    app.click(&format!("{row} .secret-set")).await?;
    app.wait_js(
        &format!(
            "return document.querySelector({}).value === '' && !document.querySelector({}).getClientRects().length;",
            json!(format!("{row} .secret-value")),
            json!(format!("{row} .secret-value"))
        ),
        10,
    )
    .await?;
    app.wait_text(&format!("{row} .secret-status"), "set", 5)
        .await?;
    app.assert_not_in_dom(&all, "replace").await?;
    app.screenshot("add-local").await?;

    // Save the server: the config holds the name only.
    if let Err(e) = save_and_see(app, "withsecret").await {
        let why = app.text("#save-error").await.unwrap_or_default();
        return Err(format!("{e}; #save-error: {why}"));
    }
    app.assert_not_in_dom(&all, "save").await?;
    let config = std::fs::read_to_string(app.dir.join("config.json")).ctx("read the config")?;
    if all.iter().any(|s| config.contains(s)) {
        return Err("a secret value was written to the config file".into());
    }
    if !config.contains(&secret_name) {
        return Err(format!(
            "the config does not reference the secret: {config:.400}"
        ));
    }

    // The child has the secret in its env and prints it to stderr, which the app logs and
    // the window's log view shows: both carry it redacted.
    let card = app.card("withsecret");
    let printed = call_tool(
        app.port,
        "withsecret",
        "stderr",
        json!({"lines": 0, "env": "API_TOKEN"}),
    )
    .await?;
    if printed.status != 200 {
        return Err(format!("tools/call stderr: status {}", printed.status));
    }
    app.click(&format!("{card} .show-logs")).await?;
    app.wait_js(
        "return document.getElementById('logs').textContent.includes('API_TOKEN=');",
        10,
    )
    .await
    .map_err(|e| format!("the child's stderr line never reached the log view: {e}"))?;
    app.assert_not_in_dom(&all, "log view").await?;
    app.click("#logs-close").await?;
    let app_log = std::fs::read_to_string(app.dir.join("driver.log")).ctx("read the app's log")?;
    if !app_log.contains("API_TOKEN=") {
        return Err("the child's stderr line never reached the app's log".into());
    }
    if all.iter().any(|s| app_log.contains(s)) {
        return Err("a secret value reached the app's log (stderr)".into());
    }
    log("a secret printed by the child is redacted in the app's log and the log view");

    // Edit: the row shows "set", and no value.
    app.click(&format!("{card} .edit")).await?;
    app.wait_text(&format!("{row} .secret-status"), "set", 5)
        .await?;
    app.assert_not_in_dom(&all, "edit").await?;
    // Remove it from the keychain.
    app.click(&format!("{row} .secret-remove")).await?;
    app.wait_text(&format!("{row} .secret-status"), "not set", 5)
        .await?;
    app.assert_not_in_dom(&all, "remove").await?;
    app.click("#cancel").await?;

    // Connect a client: snippets with the key hidden until Reveal.
    app.click("#tab-connect").await?;
    app.wait_js(
        "return document.querySelectorAll('#snippets .snippet').length >= 3;",
        10,
    )
    .await?;
    let key = env("SWITCHBOARD_API_KEY")?;
    app.assert_not_in_dom(&[key.as_str()], "connect (key hidden)")
        .await?;
    // All servers comes first; one server's endpoint is a choice away.
    let snippets = app.text("#snippets").await?;
    let aggregate = format!("http://127.0.0.1:{}/mcp", app.port);
    if !snippets.contains(&aggregate) {
        return Err(format!(
            "the first snippets are not for All servers ({aggregate}): {snippets:.300}"
        ));
    }
    app.screenshot("connect").await?;
    app.select("#connect-target", "server:withsecret").await?;
    app.wait_js(
        "return document.getElementById('snippets').textContent.includes('/servers/withsecret/mcp');",
        10,
    )
    .await
    .map_err(|e| format!("no snippets for the chosen server: {e}"))?;
    app.assert_not_in_dom(&[key.as_str()], "connect, a server chosen (key hidden)")
        .await?;
    app.click("#connect-reveal").await?;
    app.wait_js(
        &format!(
            "return document.getElementById('snippets').textContent.includes({});",
            json!(key)
        ),
        10,
    )
    .await
    .map_err(|e| format!("Reveal did not show the key: {e}"))?;
    // Leaving the view takes the key out of the page again.
    app.click("#tab-servers").await?;
    app.assert_not_in_dom(&[key.as_str()], "after leaving connect")
        .await?;
    Ok(())
}

async fn settings() -> R<()> {
    let fixture = env("SWITCHBOARD_E2E_FIXTURE")?;
    let app = App::launch(
        "settings",
        json!({"mcpServers": {"fx": {"command": fixture}}}),
    )
    .await?;
    let result = settings_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("settings").await;
    }
    app.finish().await;
    result
}

/// The status of an `initialize` sent with no key at all.
async fn keyless_initialize(port: u16) -> R<u16> {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/servers/fx/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .timeout(Duration::from_secs(20))
        .body(initialize().to_string())
        .send()
        .await
        .ctx("keyless POST")?;
    Ok(response.status().as_u16())
}

async fn settings_body(app: &App) -> R<()> {
    let old = app.port;
    app.click("#tab-settings").await?;
    app.wait_js(
        &format!("return document.getElementById('set-port').value === '{old}';"),
        10,
    )
    .await?;
    // This run set SWITCHBOARD_PORT, and the page says what that means.
    let note = app.text("#set-port-override").await?;
    if !app.visible("#set-port-override").await?
        || !note.contains(&format!("SWITCHBOARD_PORT={old}"))
    {
        return Err(format!("no note about SWITCHBOARD_PORT: {note:?}"));
    }

    // Out of range: refused on the page, nothing moves.
    app.type_into("#set-port", "80").await?;
    app.click("#set-port-save").await?;
    app.wait_js(
        "const e = document.getElementById('set-port-error'); return !e.hidden && e.textContent.includes('1024 to 65535');",
        5,
    )
    .await?;
    call_echo(old, "fx", "still on the old port").await?;

    // A free port: the proxy moves there.
    let new = free_port()?;
    app.type_into("#set-port", &new.to_string()).await?;
    app.click("#set-port-save").await?;
    let moved = app
        .wait_js(
            "const r = document.getElementById('set-port-result').textContent; const e = document.getElementById('set-port-error'); return r.includes('Moved to port') || (!e.hidden && e.textContent);",
            15,
        )
        .await?;
    if moved != json!(true) {
        return Err(format!("set_port failed: {moved}"));
    }
    app.wait_text("#set-listening", &format!("http://127.0.0.1:{new}"), 10)
        .await?;
    call_echo(new, "fx", "through the new port").await?;
    if TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], old)),
        Duration::from_secs(2),
    )
    .is_ok()
    {
        return Err(format!("the old port {old} still accepts connections"));
    }
    let config = std::fs::read_to_string(app.dir.join("config.json")).ctx("read the config")?;
    let saved: Value = serde_json::from_str(&config).ctx("config json")?;
    if saved.pointer("/switchboard/port") != Some(&json!(new)) {
        return Err(format!("the new port was not saved: {config:.400}"));
    }
    log(&format!(
        "moved from port {old} to {new}; the old one refuses"
    ));
    app.screenshot("settings-port").await?;

    // The Servers list shows the new URL.
    app.click("#tab-servers").await?;
    app.wait_text(
        &format!("{} .endpoint-url", app.card("fx")),
        &format!("http://127.0.0.1:{new}/servers/fx/mcp"),
        10,
    )
    .await?;
    if keyless_initialize(new).await? != 401 {
        return Err("a request without the key was not refused".into());
    }

    // The key check off: asked first, then off, with the banner.
    app.click("#tab-settings").await?;
    app.click("#set-auth").await?;
    app.wait_js(
        "return !document.getElementById('auth-off-confirm').hidden;",
        5,
    )
    .await?;
    let warning = app.text("#auth-off-warning").await?;
    if !warning.contains("any program on this computer") || !warning.contains("web page") {
        return Err(format!(
            "the warning does not say what off means: {warning:?}"
        ));
    }
    if !app.prop_bool("#set-auth", "checked").await? {
        return Err("the switch went off before the confirmation".into());
    }
    app.screenshot("settings-auth-confirm").await?;
    app.click("#auth-off-yes").await?;
    app.wait_js(
        "return !document.getElementById('set-auth').checked && !document.getElementById('auth-off-banner').hidden;",
        10,
    )
    .await
    .map_err(|e| format!("checks did not turn off: {e}"))?;
    if !app.visible("#auth-off-banner").await? {
        return Err("the auth-off banner is not shown".into());
    }
    let status = keyless_initialize(new).await?;
    if status != 200 {
        return Err(format!(
            "with checks off, a keyless initialize got {status}"
        ));
    }
    log("checks off: a request without the key is served, the banner shows");

    // And on again: 401 without the key.
    app.click("#set-auth").await?;
    app.wait_js(
        "return document.getElementById('set-auth').checked && document.getElementById('auth-off-banner').hidden;",
        10,
    )
    .await
    .map_err(|e| format!("checks did not turn on again: {e}"))?;
    let status = keyless_initialize(new).await?;
    if status != 401 {
        return Err(format!(
            "with checks on again, a keyless initialize got {status}"
        ));
    }
    call_echo(new, "fx", "with the key").await?;
    log("checks on again: 401 without the key");
    Ok(())
}

// ================================================================================ tools ===

async fn tools() -> R<()> {
    let fixture = env("SWITCHBOARD_E2E_FIXTURE")?;
    let app = App::launch("tools", json!({"mcpServers": {"fx": {"command": fixture}}})).await?;
    let result = tools_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("tools").await;
    }
    app.finish().await;
    result
}

/// The row of `tool` of `server` in the Tools view.
fn tool_row(server: &str, tool: &str) -> String {
    format!("#tools-list li.tool[data-server=\"{server}\"][data-tool=\"{tool}\"]")
}

async fn tools_body(app: &App) -> R<()> {
    let key = env("SWITCHBOARD_API_KEY")?;
    let aggregate = format!("http://127.0.0.1:{}/mcp", app.port);
    app.wait_text("#aggregate-url", &aggregate, 10).await?;
    let before = listed_tools(app.port, "/mcp", &key).await?;
    if !before.iter().any(|t| t == "fx__echo") || !before.iter().any(|t| t == "fx__pid") {
        return Err(format!(
            "a client of /mcp is not given fx's tools: {before:?}"
        ));
    }

    // All servers' Tools view: both tools on, with the names clients see.
    app.click("#aggregate-tools").await?;
    app.wait_text("#tools-heading", "Tools: All servers", 5)
        .await?;
    app.wait_text("#tools-count", "Clients see 2 of 2 tools.", 20)
        .await?;
    let echo = tool_row("fx", "echo");
    app.wait_text(&format!("{echo} .tool-exposed"), "fx__echo", 5)
        .await?;
    if !app
        .prop_bool(&format!("{echo} .tool-toggle"), "checked")
        .await?
    {
        return Err("echo's switch is off before it was switched".into());
    }
    app.wait_text("#tools-url", &aggregate, 5).await?;
    app.screenshot("tools").await?;

    // Switched off: the view reads the inventory again, and /mcp's clients no longer get it.
    app.click(&format!("{echo} .tool-toggle")).await?;
    app.wait_text("#tools-count", "Clients see 1 of 2 tools.", 15)
        .await
        .map_err(|e| format!("the count did not follow the switch ({e}); see #tools-error"))?;
    if app
        .prop_bool(&format!("{echo} .tool-toggle"), "checked")
        .await?
    {
        return Err("echo's switch is still on after the inventory was read again".into());
    }
    let after = listed_tools(app.port, "/mcp", &key).await?;
    if after.iter().any(|t| t == "fx__echo") || !after.iter().any(|t| t == "fx__pid") {
        return Err(format!(
            "after switching echo off, a client of /mcp is given {after:?}"
        ));
    }
    let config = std::fs::read_to_string(app.dir.join("config.json")).ctx("read the config")?;
    let saved: Value = serde_json::from_str(&config).ctx("config json")?;
    if saved.pointer("/mcpServers/fx/tools") != Some(&json!({"deny": ["echo"]})) {
        return Err(format!("the switch was not saved: {config:.400}"));
    }
    log("echo switched off in the Tools view: /mcp's clients no longer see it");
    app.screenshot("tools-switched-off").await?;

    // fx's own Tools view shows the same switch, and turns it back on.
    app.click("#tools-close").await?;
    app.click(&format!("{} .show-tools", app.card("fx")))
        .await?;
    app.wait_text("#tools-heading", "Tools: fx", 5).await?;
    app.wait_text("#tools-count", "Clients see 1 of fx's 2 tools.", 20)
        .await?;
    app.click(&format!("{echo} .tool-toggle")).await?;
    app.wait_text("#tools-count", "Clients see 2 of fx's 2 tools.", 15)
        .await?;
    let again = listed_tools(app.port, "/mcp", &key).await?;
    if !again.iter().any(|t| t == "fx__echo") {
        return Err(format!("echo switched back on, /mcp gives {again:?}"));
    }
    app.assert_not_in_dom(&[key.as_str()], "tools").await?;
    app.click("#tools-close").await?;
    app.wait_js("return !document.getElementById('view-servers').hidden;", 5)
        .await?;
    Ok(())
}

// ============================================================================= profiles ===

async fn profiles() -> R<()> {
    let fixture = env("SWITCHBOARD_E2E_FIXTURE")?;
    let app = App::launch(
        "profiles",
        json!({"mcpServers": {"fx": {"command": fixture}, "fy": {"command": fixture}}}),
    )
    .await?;
    let result = profiles_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("profiles").await;
    }
    app.finish().await;
    result
}

async fn profiles_body(app: &App) -> R<()> {
    let main_key = env("SWITCHBOARD_API_KEY")?;
    let path = "/profiles/work/mcp";
    let card = "li.profile[data-profile=\"work\"]";

    // Made in Settings: one of the two servers, and a key of its own.
    app.click("#tab-settings").await?;
    app.click("#profile-new").await?;
    app.type_into("#profile-name", "work").await?;
    app.click("#profile-servers input[value=\"fx\"]").await?;
    app.click("#profile-own-key").await?;
    app.screenshot("settings-profile").await?;
    app.click("#profile-save").await?;
    app.wait_text(
        &format!("{card} .endpoint-url"),
        &format!("http://127.0.0.1:{}{path}", app.port),
        10,
    )
    .await
    .map_err(|e| format!("{e}; see #profile-form-error"))?;
    app.wait_text(&format!("{card} .profile-servers"), "fx", 5)
        .await?;
    if !app.visible(&format!("{card} .profile-copy-key")).await? {
        return Err("a profile with its own key has no Copy key".into());
    }

    // Connect: its snippets carry a placeholder for its own key until Reveal.
    app.click("#tab-connect").await?;
    app.select("#connect-target", "profile:work").await?;
    app.wait_js(
        "const t = document.getElementById('snippets').textContent; return t.includes('/profiles/work/mcp') && t.includes('<the key of the Switchboard profile work>');",
        10,
    )
    .await
    .map_err(|e| format!("no snippets for the profile with its key hidden: {e}"))?;
    app.click("#connect-reveal").await?;
    let cursor = "#snippets .snippet[data-client=\"cursor\"] pre";
    app.wait_js(
        &format!(
            "const e = document.querySelector({}); return !!e && !e.textContent.includes('<the key');",
            json!(cursor)
        ),
        10,
    )
    .await
    .map_err(|e| format!("Reveal did not show the profile's key: {e}"))?;
    let snippet: Value = serde_json::from_str(&app.text(cursor).await?).ctx("Cursor snippet")?;
    let key = snippet
        .pointer("/mcpServers/switchboard-work/headers/Authorization")
        .and_then(Value::as_str)
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| format!("no key in the revealed snippet: {snippet}"))?
        .to_owned();
    if key == main_key {
        return Err("the profile's snippet carries the API key, not its own".into());
    }
    app.click("#tab-settings").await?;
    app.assert_not_in_dom(
        &[key.as_str(), main_key.as_str()],
        "after leaving connect (profile)",
    )
    .await?;

    // Its key opens its endpoint, with its servers only, and nothing else.
    let listed = listed_tools(app.port, path, &key).await?;
    if !listed.iter().any(|t| t == "fx__echo") || listed.iter().any(|t| t.starts_with("fy__")) {
        return Err(format!("the profile's client is given {listed:?}"));
    }
    let elsewhere = mcp_post_at(app.port, "/mcp", &key, None, initialize()).await?;
    if elsewhere.status != 401 {
        return Err(format!(
            "the profile's key opened /mcp: status {}",
            elsewhere.status
        ));
    }
    log("the profile's own key opens its endpoint (fx only) and is refused on /mcp");

    // Its Tools view: a switch there holds the tool back in this profile only.
    app.click(&format!("{card} .profile-tools")).await?;
    app.wait_text("#tools-heading", "Tools: profile work", 5)
        .await?;
    app.wait_text("#tools-count", "Clients see 2 of 2 tools.", 20)
        .await?;
    app.click(&format!("{} .tool-toggle", tool_row("fx", "pid")))
        .await?;
    app.wait_text("#tools-count", "Clients see 1 of 2 tools.", 15)
        .await?;
    let listed = listed_tools(app.port, path, &key).await?;
    if listed.iter().any(|t| t == "fx__pid") {
        return Err(format!(
            "pid switched off in the profile, its client is given {listed:?}"
        ));
    }
    let everywhere = listed_tools(app.port, "/mcp", &main_key).await?;
    if !everywhere.iter().any(|t| t == "fx__pid") {
        return Err(format!("the profile's switch reached /mcp: {everywhere:?}"));
    }
    app.click("#tools-close").await?;

    // Deleted: its endpoint is gone.
    app.click(&format!("{card} .profile-remove")).await?;
    app.click(&format!("{card} .profile-remove-yes")).await?;
    app.wait_js(
        &format!("return !document.querySelector({});", json!(card)),
        10,
    )
    .await?;
    let gone = mcp_post_at(app.port, path, &main_key, None, initialize()).await?;
    if gone.status != 404 {
        return Err(format!(
            "a deleted profile's endpoint answered {}",
            gone.status
        ));
    }
    Ok(())
}

// ==================================================================== import and connect ===

/// Where the app looks for other clients' configs: the run's temporary HOME, and
/// XDG_CONFIG_HOME (which `dirs::config_dir` follows on Linux). Refused outside the run's
/// scratch directory: this case writes and removes client configs there.
fn client_dirs() -> R<(PathBuf, PathBuf)> {
    let scratch = PathBuf::from(env("SWITCHBOARD_E2E_SCRATCH")?);
    let home = PathBuf::from(env("HOME")?);
    let config = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| home.join(".config"));
    if !home.starts_with(&scratch) || !config.starts_with(&scratch) {
        return Err(format!(
            "HOME and XDG_CONFIG_HOME must be under {} (run scripts/e2e.sh)",
            scratch.display()
        ));
    }
    Ok((home, config))
}

/// The client configs this case writes, and removes again (the HOME is the run's, shared
/// with the other cases).
fn remove_client_configs() -> R<()> {
    let (home, config) = client_dirs()?;
    for dir in [config.join("Claude"), home.join(".cursor")] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).ctx("remove a client config")?;
        }
    }
    Ok(())
}

async fn import_and_connect() -> R<()> {
    remove_client_configs()?;
    let app = App::launch("import", empty_config()).await?;
    let result = import_and_connect_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("import").await;
    }
    app.finish().await;
    remove_client_configs()?;
    result
}

async fn import_and_connect_body(app: &App) -> R<()> {
    let fixture = env("SWITCHBOARD_E2E_FIXTURE")?;
    let key = env("SWITCHBOARD_API_KEY")?;
    let token = format!("ghp_e2eImportToken{}", std::process::id());
    let (home, config_dir) = client_dirs()?;

    // Claude Desktop runs the fixture with a token written into its config in plaintext.
    let claude = config_dir.join("Claude").join("claude_desktop_config.json");
    std::fs::create_dir_all(claude.parent().ok_or("no parent")?).ctx("Claude's dir")?;
    let claude_config = json!({"mcpServers": {"fixture": {
        "command": fixture, "env": {"GITHUB_TOKEN": token}}}});
    std::fs::write(&claude, claude_config.to_string()).ctx("write Claude's config")?;

    // Import: the server, its command, and its token named as moving to the keychain.
    let row = "li.import-server[data-name=\"fixture\"]";
    app.click("#import-open").await?;
    app.wait_js(
        &format!("return !!document.querySelector({});", json!(row)),
        10,
    )
    .await
    .map_err(|e| format!("the Claude Desktop server is not listed ({e}); see #import-error"))?;
    let title = app.text(".import-file .import-file-title").await?;
    if title != "Claude Desktop" {
        return Err(format!("the file is listed as {title:?}"));
    }
    let target = app.text(&format!("{row} .import-target")).await?;
    if target != fixture {
        return Err(format!("the server's command is shown as {target:?}"));
    }
    let values = app.text(&format!("{row} .import-values")).await?;
    if !values.contains("env GITHUB_TOKEN") || !values.contains("moves to the keychain") {
        return Err(format!("the token is not shown as moving: {values:?}"));
    }
    if !app
        .prop_bool(&format!("{row} .import-check"), "checked")
        .await?
    {
        return Err("the server is not checked for import".into());
    }
    app.assert_not_in_dom(&[token.as_str()], "import preview")
        .await?;
    app.screenshot("import").await?;

    app.click("#import-submit").await?;
    app.wait_text("#import-summary", "Imported 1 server: fixture.", 15)
        .await
        .map_err(|e| format!("{e}; see #import-error"))?;
    let moved = ".import-moved-item[data-secret=\"fixture.GITHUB_TOKEN\"] .secret-status";
    app.wait_text(moved, "set", 10).await?;
    app.assert_not_in_dom(&[token.as_str()], "import report")
        .await?;
    let config = std::fs::read_to_string(app.dir.join("config.json")).ctx("read the config")?;
    if config.contains(&token) || !config.contains("fixture.GITHUB_TOKEN") {
        return Err(format!(
            "the config should name the secret, not hold it: {config:.400}"
        ));
    }
    log("imported from Claude Desktop: the token is in the keychain, the config names it");

    // On the Servers page, and its secret is set; it runs with it.
    app.click("#import-close").await?;
    let card = app.card("fixture");
    app.wait_text(&format!("{card} .kind"), "local", 10).await?;
    call_echo(app.port, "fixture", "imported").await?;
    app.click(&format!("{card} .edit")).await?;
    let env_row = "#env li:last-child";
    let name = app
        .js(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(format!("{env_row} .env-key"))],
        )
        .await?;
    if name != json!("GITHUB_TOKEN") {
        return Err(format!("the editor's variable is {name}"));
    }
    app.wait_text(&format!("{env_row} .secret-status"), "set", 10)
        .await?;
    app.assert_not_in_dom(&[token.as_str()], "editing the imported server")
        .await?;
    app.click("#cancel").await?;

    // Cursor has its own copy of the fixture, with the token, and a server of its own.
    let cursor = home.join(".cursor").join("mcp.json");
    std::fs::create_dir_all(cursor.parent().ok_or("no parent")?).ctx("Cursor's dir")?;
    let original = format!(
        "{{\n  \"mcpServers\": {{\n    \"fixture\": {{\n      \"command\": {},\n      \"env\": {{ \"GITHUB_TOKEN\": \"{token}\" }}\n    }},\n    \"notes\": {{ \"command\": \"npx\", \"args\": [\"-y\", \"notes-mcp\"] }}\n  }}\n}}\n",
        json!(fixture)
    );
    std::fs::write(&cursor, &original).ctx("write Cursor's config")?;

    // Connect it, its own copy turned off: the change is shown first.
    let app_row = "li.app[data-client=\"cursor\"][data-scope=\"user\"]";
    app.click("#tab-connect").await?;
    app.wait_text(&format!("{app_row} .app-state"), "not connected", 10)
        .await
        .map_err(|e| format!("Cursor is not listed under Your apps ({e}); see #apps-error"))?;
    app.click("#apps-turn-off").await?;
    app.click(&format!("{app_row} .app-connect")).await?;
    let diff = format!("{app_row} .app-diff");
    app.wait_js(
        &format!(
            "const e = document.querySelector({}); return !!e && e.getClientRects().length > 0 && e.textContent.includes('\"switchboard\"');",
            json!(diff)
        ),
        10,
    )
    .await
    .map_err(|e| format!("no diff shown ({e}); see .app-error"))?;
    let shown = app.text(&diff).await?;
    for want in ["<the Switchboard key>", "<secret>", "-    \"fixture\""] {
        if !shown.contains(want) {
            return Err(format!("the diff lacks {want:?}: {shown}"));
        }
    }
    app.assert_not_in_dom(&[token.as_str(), key.as_str()], "connect preview")
        .await?;
    if std::fs::read(&cursor).ctx("read Cursor's config")? != original.as_bytes() {
        return Err("the preview changed Cursor's config".into());
    }
    app.js(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
        vec![json!(app_row)],
    )
    .await?;
    app.screenshot("connect-clients").await?;

    app.click(&format!("{app_row} .app-confirm")).await?;
    app.wait_text(&format!("{app_row} .app-state"), "connected", 10)
        .await
        .map_err(|e| format!("{e}; see .app-error"))?;
    let result = app.text(&format!("{app_row} .app-result")).await?;
    if !result.contains("restart") {
        return Err(format!("no restart hint after connecting: {result:?}"));
    }
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).ctx("read Cursor's config")?)
            .ctx("Cursor's config")?;
    let servers = &written["mcpServers"];
    if servers.pointer("/switchboard/url")
        != Some(&json!(format!("http://127.0.0.1:{}/mcp", app.port)))
        || servers.get("fixture").is_some()
        || servers.get("notes").is_none()
    {
        return Err(format!("Cursor's config after connecting: {written}"));
    }
    log("Cursor connected: its config points at /mcp, its own copy of the fixture is out");

    // Undo: byte for byte as before.
    app.click(&format!("{app_row} .app-undo")).await?;
    app.wait_text(&format!("{app_row} .app-state"), "not connected", 10)
        .await
        .map_err(|e| format!("{e}; see .app-error"))?;
    if std::fs::read(&cursor).ctx("read Cursor's config")? != original.as_bytes() {
        return Err("undo did not restore Cursor's config byte for byte".into());
    }
    app.assert_not_in_dom(&[token.as_str(), key.as_str()], "after undo")
        .await?;
    log("undone: Cursor's config is byte for byte as it was");
    Ok(())
}

// ====================================================================== close and reopen ===

/// `scripts/lib/`, for the helpers shared with the shell scripts.
const SCRIPTS_LIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/lib");

/// Runs `script` in bash with scripts/lib/testing.sh sourced; `args` are its `$1`, `$2`, ….
fn testing_sh(script: &str, args: &[&str]) -> R<String> {
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("source {SCRIPTS_LIB}/testing.sh; {script}"))
        .arg("testing.sh")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ctx("run bash")?;
    if !output.status.success() {
        return Err(format!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl App {
    /// The app's pid: WebKitWebDriver starts it as its child.
    fn app_pid(&self) -> R<String> {
        let pid = self.driver.id().to_string();
        testing_sh(r#"pgrep -P "$1" -f switchboard-desktop | head -1"#, &[&pid]).and_then(|found| {
            (!found.is_empty())
                .then_some(found)
                .ok_or_else(|| "no switchboard-desktop under WebKitWebDriver".into())
        })
    }

    /// WebKit's web processes of the app (the page runs in one; bubblewrap may sit between).
    fn web_processes(&self, app_pid: &str) -> R<String> {
        testing_sh(
            r#"for p in $(pgrep -f WebKitWebProcess); do
                   a=$p; while [ "$a" -gt 1 ]; do
                       [ "$a" = "$1" ] && { echo "$p"; break; }
                       a=$(ps -o ppid= -p "$a" | tr -d ' '); [ -n "$a" ] || break
                   done
               done"#,
            &[app_pid],
        )
    }

    /// The X window of the app's main window, if it is mapped.
    fn x_window(&self) -> R<String> {
        testing_sh(
            r#"xdotool search --onlyvisible --name '^Switchboard$' 2>/dev/null | head -1"#,
            &[],
        )
    }
}

async fn wait_until(what: &str, secs: u64, mut check: impl FnMut() -> R<bool>) -> R<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check()? {
        if Instant::now() > deadline {
            return Err(format!("timed out after {secs} s waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

async fn close_and_reopen() -> R<()> {
    let fixture = env("SWITCHBOARD_E2E_FIXTURE")?;
    let app = App::launch(
        "reopen",
        json!({"mcpServers": {"fx": {"command": fixture}}}),
    )
    .await?;
    let result = close_and_reopen_body(&app).await;
    if result.is_err() {
        let _ = app.screenshot_failure("reopen").await;
    }
    app.finish().await;
    result
}

async fn close_and_reopen_body(app: &App) -> R<()> {
    let card = app.card("fx");
    app.wait_text(&format!("{card} .badge"), "idle", 10).await?;
    let pid = app.app_pid()?;
    if app.web_processes(&pid)?.is_empty() {
        return Err("no WebKitWebProcess under the app while its window is open".into());
    }
    let first = app.client.window().await.ctx("the window handle")?;

    // Closed as a window manager's close button closes it.
    let window = app.x_window()?;
    if window.is_empty() {
        return Err("no mapped X window named Switchboard".into());
    }
    testing_sh(
        r#"python3 "$1/close-window.py" "$2""#,
        &[SCRIPTS_LIB, &window],
    )?;
    wait_until("the window to go", 10, || {
        app.x_window().map(|w| w.is_empty())
    })
    .await?;
    wait_until("WebKit's web process to exit", 20, || {
        app.web_processes(&pid).map(|p| p.is_empty())
    })
    .await?;
    log("closed: the window and its web process are gone");

    // The app lives on in the tray, and the proxy with it; the state changes meanwhile.
    call_echo(app.port, "fx", "while the window is closed").await?;

    testing_sh(
        r#"wait_for 20 tray_find_for "$1" && tray_click 'Open Switchboard'"#,
        &[&pid],
    )?;
    wait_until("the window to come back", 20, || {
        app.x_window().map(|w| !w.is_empty())
    })
    .await?;
    // A new webview: WebDriver sees it as a new window.
    let deadline = Instant::now() + Duration::from_secs(20);
    let reopened = loop {
        let handles = app.client.windows().await.ctx("window handles")?;
        if let Some(handle) = handles.into_iter().find(|h| *h != first) {
            break handle;
        }
        if Instant::now() > deadline {
            return Err("WebDriver never saw the reopened window".into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    app.client
        .switch_to_window(reopened)
        .await
        .ctx("switch to the reopened window")?;

    // It renders the state as it is now (a session was opened while it was closed) ...
    app.wait_text("#state", "Running", 20).await?;
    app.wait_text(&format!("{card} .badge"), "running", 10)
        .await?;
    one_session_stats(app, &card)
        .await
        .map_err(|e| format!("the reopened window shows stale stats: {e}"))?;
    // ... and follows it: its commands and the state-changed events work.
    app.click(&format!("{card} .enable-toggle")).await?;
    app.wait_text(&format!("{card} .badge"), "disabled", 10)
        .await?;
    log("reopened from the tray: the window renders and follows the state");
    Ok(())
}

// ========================================================================= OAuth sign-in ===

/// The OAuth fixture: a remote MCP server that takes only OAuth, with its own authorization
/// server that approves every sign-in at once as ada@example.com. Killed when dropped.
struct OAuthFixture {
    child: Child,
    base: String,
}

impl OAuthFixture {
    fn start() -> R<OAuthFixture> {
        use std::io::BufRead;
        let mut child = Command::new(env("SWITCHBOARD_E2E_OAUTH_FIXTURE")?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .ctx("start oauth-fixture")?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("oauth-fixture: no stdout")?;
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .ctx("read oauth-fixture's address")?;
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("oauth-fixture said {line:?}"));
        };
        Ok(OAuthFixture {
            base: base.to_owned(),
            child,
        })
    }

    /// Every token and code it handed out: none may reach the window.
    async fn issued_secrets(&self) -> R<Vec<String>> {
        let stats: Value = reqwest::get(format!("{}/admin/stats", self.base))
            .await
            .ctx("GET /admin/stats")?
            .json()
            .await
            .ctx("/admin/stats json")?;
        Ok(stats["issued"]
            .as_array()
            .ok_or("/admin/stats: no issued")?
            .iter()
            .filter_map(Value::as_str)
            .filter(|v| ["at-", "rt-", "code-"].iter().any(|p| v.starts_with(p)))
            .map(str::to_owned)
            .collect())
    }
}

impl Drop for OAuthFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake `xdg-open` in `dir/bin`, first on the app's PATH: the test follows the
/// authorization URL in place of a person. tauri-plugin-opener (the `open` crate) runs
/// `xdg-open <url>` first on Linux, with the URL as one argument and no shell; this one logs
/// the URL, waits until the test has looked at the window (`go`, at most 30 s), then fetches
/// the URL with curl, following the authorization server's redirect to Switchboard's
/// loopback listener. It always exits 0, so the opener tries no other program.
struct FakeBrowser {
    /// The PATH for the app, the fake's directory first.
    path: String,
    /// One `url <URL>` line per opening, then curl's `status <code>`.
    log: PathBuf,
    /// Created by the test to let the fake go on.
    go: PathBuf,
}

impl FakeBrowser {
    fn install(dir: &Path) -> R<FakeBrowser> {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).ctx("create the fake browser's dir")?;
        let log = dir.join("opened.log");
        let go = dir.join("go");
        let script = bin.join("xdg-open");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 # The person's browser, for the e2e oauth case (e2e/tests/ui.rs, FakeBrowser).\n\
                 printf 'url %s\\n' \"$1\" >> '{log}'\n\
                 i=0\n\
                 while [ ! -e '{go}' ] && [ \"$i\" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done\n\
                 curl -s -L --max-time 20 -o /dev/null -w 'status %{{http_code}}\\n' \"$1\" >> '{log}' 2>&1\n\
                 exit 0\n",
                log = log.display(),
                go = go.display(),
            ),
        )
        .ctx("write the fake xdg-open")?;
        Command::new("chmod")
            .arg("755")
            .arg(&script)
            .status()
            .ctx("chmod the fake xdg-open")?;
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Ok(FakeBrowser { path, log, go })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The URL the opener gave it (the first one logged).
    fn opened_url(&self) -> Option<String> {
        self.log_text()
            .lines()
            .find_map(|line| line.strip_prefix("url ").map(str::to_owned))
    }
}

async fn oauth_sign_in() -> R<()> {
    let fixture = OAuthFixture::start()?;
    let browser = FakeBrowser::install(&case_dir("oauth")?)?;
    let app = App::launch_with("oauth", empty_config(), &[("PATH", browser.path.clone())]).await?;
    let result = oauth_sign_in_body(&app, &fixture, &browser).await;
    if result.is_err() {
        let _ = app.screenshot_failure("oauth").await;
        log(&format!("the fake browser's log:\n{}", browser.log_text()));
    }
    app.finish().await;
    result
}

async fn oauth_sign_in_body(app: &App, fixture: &OAuthFixture, browser: &FakeBrowser) -> R<()> {
    let name = "notes";
    let card = app.card(name);

    // Added through the form, with OAuth and nothing else to fill in.
    app.click("#add-remote").await?;
    app.wait_text("#edit-heading", "Add remote gateway", 5)
        .await?;
    app.type_into("#f-name", name).await?;
    app.type_into("#f-url", &format!("{}/mcp", fixture.base))
        .await?;
    app.select("#f-auth", "oauth").await?;
    if !app.visible("#f-oauth-client-id").await? || !app.visible("#f-oauth-machine").await? {
        return Err("the OAuth fields are not shown for 'OAuth (sign in)'".into());
    }
    // Test connection shows discovery in plain words, before the server is even saved.
    app.click("#test-connection").await?;
    let issuer = format!("Authorization server: {}/as", fixture.base);
    app.wait_js(
        &format!(
            "return [...document.querySelectorAll('#test-discovery li')].some(li => li.textContent === {});",
            json!(issuer)
        ),
        20,
    )
    .await
    .map_err(|e| format!("discovery never listed the issuer ({e})"))?;
    let steps = app
        .js(
            "return [...document.querySelectorAll('#test-discovery li')].map(li => li.textContent);",
            vec![],
        )
        .await?;
    log(&format!("Test connection, discovery: {steps}"));
    if !steps.to_string().contains("dynamic client registration") {
        return Err(format!(
            "discovery does not say how Switchboard registers: {steps}"
        ));
    }
    if let Err(e) = save_and_see(app, name).await {
        let why = app.text("#save-error").await.unwrap_or_default();
        return Err(format!("{e}; #save-error: {why}"));
    }

    // Not signed in: the card says so, and so does the tray.
    app.wait_text(&format!("{card} .auth-badge"), "Needs sign-in", 15)
        .await?;
    if !app.visible(&format!("{card} .auth-badge")).await? {
        return Err("the 'Needs sign-in' badge is not visible".into());
    }
    app.wait_text(&format!("{card} .badge"), "needs sign-in", 5)
        .await?;
    if !app.visible(&format!("{card} .sign-in")).await? {
        return Err("no Sign in button on a server that needs sign-in".into());
    }
    let pid = app.app_pid()?;
    let tray_label = format!("{name} — sign in needed");
    testing_sh(
        r#"wait_for 20 tray_find_for "$1" && { wait_for 10 tray_has "$2" || { echo "tray: $(tray_labels)" >&2; exit 1; }; }"#,
        &[&pid, &tray_label],
    )?;
    log("needs sign-in: the card's badge and Sign in button, the tray's label");
    app.screenshot("oauth-needs-sign-in").await?;

    // Sign in: the shell opens "the browser" (the fake xdg-open), which waits for us.
    app.click(&format!("{card} .sign-in")).await?;
    wait_until("the opener to run xdg-open", 20, || {
        Ok(browser.opened_url().is_some())
    })
    .await?;
    let url = browser.opened_url().unwrap_or_default();
    if !url.starts_with(&format!("{}/as/authorize?", fixture.base)) {
        return Err(format!(
            "xdg-open was given {url:?}, not the authorization URL"
        ));
    }
    // Meanwhile the card says where the browser went, with the address to copy.
    let host = fixture.base.trim_start_matches("http://");
    app.wait_text(
        &format!("{card} .sign-in-opening"),
        &format!("Opening your browser to sign in at {host}…"),
        10,
    )
    .await?;
    if app.text(&format!("{card} .sign-in-url")).await? != url {
        return Err("the card does not show the address the browser was given".into());
    }
    if !app.visible(&format!("{card} .sign-in-copy")).await? {
        return Err("no Copy button next to the sign-in address".into());
    }
    app.screenshot("oauth-signing-in").await?;
    std::fs::write(&browser.go, b"").ctx("let the fake browser go on")?;

    app.wait_text(
        &format!("{card} .auth-text"),
        "Signed in as ada@example.com",
        30,
    )
    .await
    .map_err(|e| format!("{e}; the fake browser's log: {:?}", browser.log_text()))?;
    if app.visible(&format!("{card} .sign-in-pending")).await? {
        return Err("signed in, the card still says the browser is out".into());
    }
    let opened = browser.log_text();
    if opened.lines().filter(|l| l.starts_with("url ")).count() != 1 {
        return Err(format!("the browser was opened more than once: {opened:?}"));
    }
    if !app.visible(&format!("{card} .sign-out")).await?
        || app.visible(&format!("{card} .sign-in")).await?
    {
        return Err("signed in, the card should offer Sign out and not Sign in".into());
    }
    let detail = app.text(&format!("{card} .auth-detail")).await?;
    if !detail.contains("token renews automatically") {
        return Err(format!(
            "signed in with a refresh token, the card says {detail:?}"
        ));
    }
    if app.visible(&format!("{card} .sign-in-error")).await? {
        let error = app.text(&format!("{card} .sign-in-error")).await?;
        return Err(format!("an error is shown after signing in: {error}"));
    }
    testing_sh(
        r#"tray_lacks() { ! tray_has "$1"; }; wait_for 20 tray_find_for "$2" && { wait_for 10 tray_lacks "$1" || { echo "tray: $(tray_labels)" >&2; exit 1; }; }"#,
        &[&tray_label, &pid],
    )?;
    log("signed in through the fake browser: the card names ada@example.com");
    app.screenshot("oauth-signed-in").await?;

    // A client of the proxy now reaches the server as ada.
    let call = call_tool(app.port, name, "whoami", json!({})).await?;
    if !call.body.contains("ada@example.com") {
        return Err(format!(
            "tools/call whoami: status {}, body {:.300}",
            call.status, call.body
        ));
    }
    log("whoami through /servers/notes/mcp: ada@example.com");
    let issued = fixture.issued_secrets().await?;
    if issued.is_empty() {
        return Err("the fixture handed out no token".into());
    }
    let issued: Vec<&str> = issued.iter().map(String::as_str).collect();
    app.assert_not_in_dom(&issued, "signed in").await?;

    // Sign out: needs sign-in again, and the proxy no longer gets through.
    app.click(&format!("{card} .sign-out")).await?;
    app.wait_text(&format!("{card} .auth-badge"), "Needs sign-in", 15)
        .await?;
    if !app.visible(&format!("{card} .sign-in")).await? {
        return Err("signed out, the card offers no Sign in".into());
    }
    testing_sh(
        r#"wait_for 20 tray_find_for "$1" && { wait_for 10 tray_has "$2" || { echo "tray: $(tray_labels)" >&2; exit 1; }; }"#,
        &[&pid, &tray_label],
    )?;
    match call_tool(app.port, name, "whoami", json!({})).await {
        Ok(reply) if reply.body.contains("ada@example.com") => {
            return Err("signed out, whoami still answers ada@example.com".into());
        }
        _ => {}
    }
    log("signed out: needs sign-in again, and the proxy no longer gets through");
    Ok(())
}

impl App {
    async fn screenshot_failure(&self, case: &str) -> R<()> {
        let png = self.client.screenshot().await.ctx("screenshot")?;
        let path = self.dir.join(format!("failure-{case}.png"));
        std::fs::write(&path, png).ctx("write")?;
        log(&format!("failure screenshot: {}", path.display()));
        Ok(())
    }
}

// ================================================================================= main ===

type Case = fn() -> Pin<Box<dyn Future<Output = R<()>> + Send>>;

fn main() -> ExitCode {
    if std::env::var_os("SWITCHBOARD_E2E_APP").is_none() {
        println!("e2e: skipped (SWITCHBOARD_E2E_APP is not set; run scripts/e2e.sh)");
        return ExitCode::SUCCESS;
    }
    let only = std::env::var("SWITCHBOARD_E2E_ONLY").unwrap_or_default();
    let cases: [(&str, Case); 9] = [
        ("local server: add, running, endpoint, off refuses", || {
            Box::pin(local_server())
        }),
        (
            "query-parameter gateway: disabled, warning, acknowledgement",
            || Box::pin(query_gateway()),
        ),
        (
            "secrets: set, replace, never in the DOM; connect a client",
            || Box::pin(secrets()),
        ),
        (
            "settings: the port moves; the key check off (confirmed) and on",
            || Box::pin(settings()),
        ),
        (
            "tools: switch a tool off in the Tools view, and a client of the aggregate no longer sees it",
            || Box::pin(tools()),
        ),
        (
            "profiles: made in Settings with a key of its own; its snippets, tools and endpoint",
            || Box::pin(profiles()),
        ),
        (
            "import and connect: a Claude Desktop server imported with its token moved; Cursor connected and undone",
            || Box::pin(import_and_connect()),
        ),
        (
            "oauth sign-in: needs sign-in, the browser follows the page, whoami as ada, sign out",
            || Box::pin(oauth_sign_in()),
        ),
        (
            "window: closed to the tray (web process gone), reopened from it",
            || Box::pin(close_and_reopen()),
        ),
    ];
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            println!("e2e: 0 passed, 1 failed (no tokio runtime: {e})");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        if !name.contains(&only) {
            continue;
        }
        log(&format!("case: {name}"));
        let started = Instant::now();
        let outcome = runtime.block_on(async {
            match tokio::time::timeout(Duration::from_secs(180), tokio::spawn(case())).await {
                Err(_) => Err("timed out after 180 s".to_string()),
                Ok(Err(join)) => Err(format!("panicked: {join}")),
                Ok(Ok(result)) => result,
            }
        });
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("PASS {name} ({:.1} s)", started.elapsed().as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e}");
            }
        }
    }
    println!("e2e: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
