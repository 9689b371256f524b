//! What the relay costs: `switchboard serve` against direct stdio to the same server.
//!
//! Both sides talk to the same fixture, `switchboard demo-server`, with `tools/call echo`:
//! - direct: the bench writes newline-delimited JSON-RPC to the child's stdin and reads its
//!   stdout, one child per "session";
//! - relay: the bench starts the real `switchboard serve` binary as its own process and drives
//!   it over loopback HTTP/1.1 with keep-alive, one connection per MCP session.
//!
//! The HTTP client is a hand-written minimal HTTP/1.1 client on a blocking `TcpStream`, one OS
//! thread per session, so that the client's own cost stays small and is the same kind of cost as
//! the direct client's (one write and one read per call). The CPU each party used is read from
//! `/proc` and reported per call, the client's included.
//!
//! Full run: `cargo bench -p switchboard-blackbox --bench relay` (see BENCHMARKS.md); it builds
//! `switchboard` in release mode first. Without `--bench` on the command line (so under
//! `cargo test --benches`), with `--test` or `--quick`, or with `BENCH_QUICK=1`, it does only a
//! handful of calls per row: a smoke run whose numbers mean nothing.
//!
//! Linux only: CPU and memory are read from `/proc`.
//!
//! Knobs (environment): `BENCH_CALLS` (measured calls of each one-session row), `BENCH_WARMUP`
//! (warm-up calls of each one-session row; a tenth of it per session in concurrent rows),
//! `BENCH_SECS` (measured seconds of each concurrent row), `BENCH_SESSIONS` (concurrent
//! sessions), `SWITCHBOARD_BIN` (the binary to measure; default: built with cargo).

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// The echo argument of every call.
const MESSAGE: &str = "hello from the relay bench";
const PROTOCOL_VERSION: &str = "2025-06-18";
/// Every socket read and every wait is bounded by this, so a bug is an error, not a hang.
const IO_LIMIT: Duration = Duration::from_secs(30);
/// `/proc/<pid>/stat` counts CPU time in clock ticks of 1/USER_HZ s; USER_HZ is 100 on Linux.
const TICK_US: f64 = 10_000.0;

fn main() -> std::process::ExitCode {
    // Every process is owned by a guard inside `bench`, so all are gone once it returns.
    match bench() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<()> {
    let settings = Settings::from_env()?;
    let binary = switchboard_binary(&settings)?;
    eprintln!("relay bench: measuring {}", binary.display());
    if settings.quick {
        eprintln!("relay bench: smoke mode (a handful of calls per row; numbers mean nothing)");
    }
    let machine = Machine::read();
    let report = run(&settings, &binary)?;
    print!("{}", report.markdown(&settings, &machine, &binary));
    Ok(())
}

// === settings ===

struct Settings {
    quick: bool,
    /// Measured calls of each one-session row.
    calls: usize,
    /// Warm-up calls of each one-session row (a tenth of it per concurrent session).
    warmup: usize,
    /// Measured time of each concurrent row, and half the time limit of a one-session row.
    secs: f64,
    sessions: usize,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let quick = has("--test")
            || has("--quick")
            || !has("--bench")
            || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let (calls, warmup, secs) = if quick {
            (20, 10, 0.2)
        } else {
            (20_000, 2_000, 3.0)
        };
        let settings = Settings {
            quick,
            calls: env_number("BENCH_CALLS", calls)?,
            warmup: env_number("BENCH_WARMUP", warmup)?,
            secs: env_number("BENCH_SECS", secs)?,
            sessions: env_number("BENCH_SESSIONS", 16)?,
        };
        if settings.calls == 0
            || settings.sessions == 0
            || settings.secs.is_nan()
            || settings.secs <= 0.0
        {
            return Err("BENCH_CALLS, BENCH_SESSIONS and BENCH_SECS must be above 0".into());
        }
        Ok(settings)
    }

    fn concurrent_warmup(&self) -> usize {
        (self.warmup / 10).max(1)
    }

    /// A one-session row stops early after this long (a 40 ms stall per call would otherwise
    /// make 20,000 calls take 15 minutes).
    fn row_limit(&self) -> Duration {
        Duration::from_secs_f64(self.secs * 2.0)
    }

    /// Every warm-up stops early after this long.
    fn warmup_limit(&self) -> Duration {
        Duration::from_secs_f64(if self.quick { 0.2 } else { 1.0 })
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("{name}={value:?} is not a number").into()),
        Err(_) => Ok(default),
    }
}

// === the binary under test ===

/// The `switchboard` binary. A full run builds it in release mode first (a no-op when it is
/// fresh; others edit `crates/` meanwhile, so a binary found on disk may be stale). A smoke run
/// takes the newest one there (release or debug), and builds only when there is none.
fn switchboard_binary(settings: &Settings) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHBOARD_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    // <target>/<profile>/deps/relay-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the bench executable is not in <target>/<profile>/deps")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("the bench executable is not in <target>/<profile>/deps")?;
    let name = format!("switchboard{}", std::env::consts::EXE_SUFFIX);
    let release = target_dir.join("release").join(&name);
    if !settings.quick {
        if let Err(e) = cargo_build(target_dir, true) {
            if !release.exists() {
                return Err(e);
            }
            eprintln!("relay bench: WARNING: {e}; measuring the existing, possibly stale binary");
        }
        return Ok(release);
    }
    let own = profile_dir.join(&name);
    let debug = target_dir.join("debug").join(&name);
    // The newest of them: one left from an older build must not be measured instead.
    let newest = [&release, &own, &debug]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified);
    if let Some((_, found)) = newest {
        return Ok(found.clone());
    }
    let release_profile = profile_dir.file_name().is_some_and(|n| n == "release");
    cargo_build(target_dir, release_profile)?;
    Ok(if release_profile { release } else { debug })
}

fn cargo_build(target_dir: &Path, release: bool) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "switchboard-cli",
            "--bin",
            "switchboard",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout(Stdio::null());
    if release {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo build -p switchboard-cli` failed ({status})").into());
    }
    Ok(())
}

// === processes ===

/// A child process that is stopped when this guard goes away, panics included: SIGTERM, a
/// bounded wait for a graceful exit, then SIGKILL.
struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Ok(Some(_)) | Err(_) => return,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `switchboard serve` on a free loopback port, with its stderr in a log file.
struct Serve {
    proc: Proc,
    addr: SocketAddr,
    /// The API key clients must send (a fresh random one, so no keychain is needed).
    key: String,
    log: PathBuf,
}

impl Serve {
    fn start(binary: &Path, config: &Path, log: PathBuf) -> Result<Serve> {
        let mut random = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
        let key: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let child = Command::new(binary)
            .args(["serve", "--port", "0", "--config"])
            .arg(config)
            .env("SWITCHBOARD_API_KEY", &key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut proc = Proc { child };
        let stdout = proc.child.stdout.take().ok_or("serve's stdout is piped")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if stdout.read_line(&mut line)? == 0 {
                return Err(format!(
                    "switchboard serve exited before listening; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
                .into());
            }
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().parse::<SocketAddr>()?;
            }
        };
        // Keep draining stdout, or serve's next println! would fail on a closed pipe. The
        // thread ends when serve does.
        std::thread::spawn(move || io::copy(&mut stdout, &mut io::sink()));
        Ok(Serve {
            proc,
            addr,
            key,
            log,
        })
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Fails with the end of serve's log if it is no longer running.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.proc.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(
                format!("switchboard serve exited ({status}):\n{}", tail.join("\n")).into(),
            );
        }
        Ok(())
    }
}

// === callers: one session that can make one call at a time ===

trait Caller: Send {
    /// One `tools/call echo` round trip; returns its latency. With `verify`, the answer is
    /// parsed and checked in full, else only cheaply (either way after the clock stopped).
    fn call(&mut self, verify: bool) -> Result<Duration>;
    /// How the answers came: `stdio`, `JSON`, `SSE`, or `JSON+SSE` when both occurred.
    fn format(&self) -> &'static str;
    /// The pid of the stdio server this caller owns itself, if any.
    fn own_server_pid(&self) -> Option<u32> {
        None
    }
}

fn write_call(out: &mut Vec<u8>, id: u64, tool: &str) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"message":"{MESSAGE}"}}}}}}"#
    );
}

/// The stateless protocol's version, and a call in it (`_meta` carries the envelope).
const STATELESS_VERSION: &str = "2026-07-28";

fn write_stateless_call(out: &mut Vec<u8>, id: u64, tool: &str) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"message":"{MESSAGE}"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"{STATELESS_VERSION}","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
}

fn initialize_body() -> Vec<u8> {
    json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "relay-bench", "version": "1"}
        }
    })
    .to_string()
    .into_bytes()
}

const INITIALIZED: &[u8] = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// The one JSON-RPC message in a JSON body or an SSE stream's first `data:` line.
fn payload(body: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(body)?;
    let json = if text.trim_start().starts_with('{') {
        text
    } else {
        text.lines()
            .find_map(|l| l.strip_prefix("data:"))
            .ok_or_else(|| format!("no data line in {text:?}"))?
    };
    Ok(serde_json::from_str(json.trim())?)
}

fn check_answer(body: &[u8], id: u64, verify: bool) -> Result<()> {
    if verify {
        let answer = payload(body)?;
        let text = answer.pointer("/result/content/0/text");
        if answer["id"] != json!(id) || text != Some(&json!(MESSAGE)) {
            return Err(format!("unexpected answer to call {id}: {answer}").into());
        }
    } else if !contains(body, br#""isError":false"#) {
        return Err(format!(
            "unexpected answer to call {id}: {}",
            String::from_utf8_lossy(body)
        )
        .into());
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Direct stdio: the bench is the MCP client of its own `switchboard demo-server` child.
struct DirectSession {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    request: Vec<u8>,
    line: Vec<u8>,
    next_id: u64,
    // Last, so stdin closes (the polite stop) before the guard signals.
    proc: Proc,
}

impl DirectSession {
    fn start(binary: &Path) -> Result<DirectSession> {
        let child = Command::new(binary)
            .arg("demo-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut proc = Proc { child };
        let stdin = proc.child.stdin.take().ok_or("stdin is piped")?;
        let stdout = proc.child.stdout.take().ok_or("stdout is piped")?;
        let mut this = DirectSession {
            stdin,
            stdout: BufReader::new(stdout),
            request: Vec::new(),
            line: Vec::new(),
            next_id: 0,
            proc,
        };
        let mut init = initialize_body();
        init.push(b'\n');
        this.roundtrip_raw(&init)?;
        let answer = payload(&this.line)?;
        if answer.get("result").is_none() {
            return Err(format!("initialize failed: {answer}").into());
        }
        this.stdin.write_all(INITIALIZED)?;
        this.stdin.write_all(b"\n")?;
        Ok(this)
    }

    fn roundtrip_raw(&mut self, message: &[u8]) -> io::Result<()> {
        self.stdin.write_all(message)?;
        self.line.clear();
        if self.stdout.read_until(b'\n', &mut self.line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

impl Caller for DirectSession {
    fn call(&mut self, verify: bool) -> Result<Duration> {
        self.next_id += 1;
        let id = self.next_id;
        write_call(&mut self.request, id, "echo");
        self.request.push(b'\n');
        let request = std::mem::take(&mut self.request);
        let start = Instant::now();
        let sent = self.roundtrip_raw(&request);
        let elapsed = start.elapsed();
        self.request = request;
        sent?;
        check_answer(&self.line, id, verify)?;
        Ok(elapsed)
    }

    fn format(&self) -> &'static str {
        "stdio"
    }

    fn own_server_pid(&self) -> Option<u32> {
        Some(self.proc.pid())
    }
}

/// One MCP Streamable HTTP session on its own keep-alive connection, spoken by hand.
struct HttpSession {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
    path: String,
    /// The echo tool's name at this endpoint (`demo__echo` through the aggregate).
    tool: &'static str,
    /// `authorization: Bearer <key>\r\n`, sent with every request.
    auth: String,
    accept: &'static str,
    session: Option<String>,
    /// A 2026-07-28 client: no handshake, the version and capabilities in every call.
    stateless: bool,
    next_id: u64,
    /// The JSON-RPC body of the next call.
    call: Vec<u8>,
    request: Vec<u8>,
    body: Vec<u8>,
    line: Vec<u8>,
    status: u16,
    /// Whether the last response was an SSE stream (else it was plain JSON).
    last_was_sse: bool,
    json_answers: u64,
    sse_answers: u64,
}

const ACCEPT_JSON: &str = "application/json";
/// Where `HttpSession::open` takes a server name: the aggregate endpoint, `/mcp`.
const AGGREGATE: &str = "*";
/// What the spec asks every client to send; the proxy then picks JSON or SSE.
const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const ACCEPT_SSE: &str = "text/event-stream";

impl HttpSession {
    /// Connects, initializes and sends `notifications/initialized`.
    /// `server`: a configured server, or [`AGGREGATE`] for `/mcp`.
    fn open(serve: &Serve, server: &str, accept: &'static str) -> Result<HttpSession> {
        Self::open_as(serve, server, accept, false)
    }

    /// A stateless (2026-07-28) client of `server`: a connection, no handshake.
    fn stateless(serve: &Serve, server: &str, accept: &'static str) -> Result<HttpSession> {
        Self::open_as(serve, server, accept, true)
    }

    fn open_as(
        serve: &Serve,
        server: &str,
        accept: &'static str,
        stateless: bool,
    ) -> Result<HttpSession> {
        let addr = serve.addr;
        let stream = TcpStream::connect_timeout(&addr, IO_LIMIT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_LIMIT))?;
        stream.set_write_timeout(Some(IO_LIMIT))?;
        let mut this = HttpSession {
            writer: stream.try_clone()?,
            reader: BufReader::with_capacity(16 * 1024, stream),
            host: addr.to_string(),
            path: if server == AGGREGATE {
                "/mcp".to_owned()
            } else {
                format!("/servers/{server}/mcp")
            },
            tool: if server == AGGREGATE {
                "demo__echo"
            } else {
                "echo"
            },
            auth: format!("authorization: Bearer {}\r\n", serve.key),
            accept,
            session: None,
            stateless,
            next_id: 0,
            call: Vec::new(),
            request: Vec::new(),
            body: Vec::new(),
            line: Vec::new(),
            status: 0,
            last_was_sse: false,
            json_answers: 0,
            sse_answers: 0,
        };
        if stateless {
            return Ok(this);
        }
        let session = this.exchange("POST", &initialize_body())?;
        let answer = payload(&this.body)?;
        if this.status != 200 || answer.get("result").is_none() {
            return Err(format!("initialize failed ({}): {answer}", this.status).into());
        }
        this.session = Some(session.ok_or("initialize answered without mcp-session-id")?);
        this.exchange("POST", INITIALIZED)?;
        if this.status != 202 {
            return Err(format!("notifications/initialized got {}", this.status).into());
        }
        Ok(this)
    }

    /// Ends the session (its per-session child stops).
    fn close(mut self) -> Result<()> {
        if self.stateless {
            return Ok(());
        }
        self.exchange("DELETE", b"")?;
        if self.status != 200 {
            return Err(format!("DELETE got {}", self.status).into());
        }
        Ok(())
    }

    /// One request and its whole response (into `self.body`); returns a new session id.
    fn exchange(&mut self, method: &str, body: &[u8]) -> Result<Option<String>> {
        self.send(method, body)?;
        self.receive()
    }

    fn send(&mut self, method: &str, body: &[u8]) -> io::Result<()> {
        let r = &mut self.request;
        r.clear();
        write!(
            r,
            "{method} {} HTTP/1.1\r\nhost: {}\r\n{}",
            self.path, self.host, self.auth
        )?;
        if !body.is_empty() {
            write!(
                r,
                "content-type: application/json\r\naccept: {}\r\n",
                self.accept
            )?;
        }
        if let Some(session) = &self.session {
            write!(
                r,
                "mcp-session-id: {session}\r\nmcp-protocol-version: {PROTOCOL_VERSION}\r\n"
            )?;
        }
        if self.stateless {
            write!(
                r,
                "mcp-protocol-version: {STATELESS_VERSION}\r\nmcp-method: tools/call\r\nmcp-name: {}\r\n",
                self.tool
            )?;
        }
        write!(r, "content-length: {}\r\n\r\n", body.len())?;
        r.extend_from_slice(body);
        self.writer.write_all(r)
    }

    /// Reads one response: status line, headers, then a Content-Length or chunked body.
    fn receive(&mut self) -> Result<Option<String>> {
        self.body.clear();
        read_line(&mut self.reader, &mut self.line)?;
        self.status = self
            .line
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {:?}", String::from_utf8_lossy(&self.line)))?;
        let mut length = None;
        let mut chunked = false;
        let mut session = None;
        self.last_was_sse = false;
        loop {
            read_line(&mut self.reader, &mut self.line)?;
            let line = trim(&self.line);
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
            if name.eq_ignore_ascii_case(b"content-length") {
                length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value.eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"content-type") {
                self.last_was_sse = value.starts_with(b"text/event-stream");
            } else if name.eq_ignore_ascii_case(b"mcp-session-id") {
                session = Some(String::from_utf8_lossy(value).into_owned());
            }
        }
        if chunked {
            loop {
                read_line(&mut self.reader, &mut self.line)?;
                let size = trim(&self.line);
                let size = size.split(|&b| b == b';').next().unwrap_or_default();
                let size = std::str::from_utf8(size)
                    .ok()
                    .and_then(|s| usize::from_str_radix(s, 16).ok())
                    .ok_or("bad chunk size")?;
                if size == 0 {
                    // Trailers, if any, then the empty line.
                    loop {
                        read_line(&mut self.reader, &mut self.line)?;
                        if trim(&self.line).is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = self.body.len();
                self.body.resize(start + size, 0);
                self.reader.read_exact(&mut self.body[start..])?;
                read_line(&mut self.reader, &mut self.line)?;
            }
        } else if let Some(length) = length {
            self.body.resize(length, 0);
            self.reader.read_exact(&mut self.body)?;
        } else if !matches!(self.status, 100..=199 | 204 | 304) {
            return Err(format!("response {} has no length", self.status).into());
        }
        Ok(session)
    }
}

impl Caller for HttpSession {
    fn call(&mut self, verify: bool) -> Result<Duration> {
        self.next_id += 1;
        let id = self.next_id;
        let mut body = std::mem::take(&mut self.call);
        if self.stateless {
            write_stateless_call(&mut body, id, self.tool);
        } else {
            write_call(&mut body, id, self.tool);
        }
        let start = Instant::now();
        let sent = self.exchange("POST", &body);
        let elapsed = start.elapsed();
        self.call = body;
        sent?;
        if self.last_was_sse {
            self.sse_answers += 1;
        } else {
            self.json_answers += 1;
        }
        if self.status != 200 {
            return Err(format!(
                "call {id} got HTTP {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
            .into());
        }
        check_answer(&self.body, id, verify)?;
        Ok(elapsed)
    }

    fn format(&self) -> &'static str {
        match (self.json_answers > 0, self.sse_answers > 0) {
            (true, true) => "JSON+SSE",
            (false, true) => "SSE",
            _ => "JSON",
        }
    }
}

fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<()> {
    line.clear();
    if reader.read_until(b'\n', line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

// === CPU accounting from /proc ===

/// (parent pid, user + system CPU ticks) of a process.
fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it may not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// On-CPU nanoseconds of a live process's threads (`/proc/<pid>/task/*/schedstat`): exact,
/// where the clock ticks of `proc_stat` would round each short-lived server down to 0.
fn live_cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(ppid, _)| ppid == parent))
        .collect()
}

/// Who counts as what in a row's CPU split.
struct Parties {
    proxy: Option<u32>,
    /// Stdio servers: these pids, or every child of the proxy.
    servers: Vec<u32>,
}

impl Parties {
    fn snapshot(&self) -> CpuSnapshot {
        let client = proc_stat(std::process::id()).map_or(0, |s| s.1);
        let proxy = self.proxy.and_then(proc_stat).map_or(0, |s| s.1);
        let pids = match self.proxy {
            Some(proxy) => children_of(proxy),
            None => self.servers.clone(),
        };
        let servers = pids
            .into_iter()
            .filter_map(|pid| Some((pid, live_cpu_ns(pid)?)))
            .collect();
        CpuSnapshot {
            client,
            proxy,
            servers,
        }
    }
}

struct CpuSnapshot {
    /// Clock ticks of the bench process, exited threads included.
    client: u64,
    /// Clock ticks of `switchboard serve`.
    proxy: u64,
    /// On-CPU nanoseconds of each stdio server.
    servers: HashMap<u32, u64>,
}

/// CPU time in seconds used by each party during a measurement.
#[derive(Clone, Copy, Default)]
struct CpuSplit {
    client: f64,
    proxy: f64,
    servers: f64,
}

impl CpuSnapshot {
    fn since(&self, before: &CpuSnapshot) -> CpuSplit {
        let ticks = |a: u64, b: u64| a.saturating_sub(b) as f64 * TICK_US / 1e6;
        CpuSplit {
            client: ticks(self.client, before.client),
            proxy: ticks(self.proxy, before.proxy),
            servers: self
                .servers
                .iter()
                .map(|(pid, &ns)| {
                    ns.saturating_sub(before.servers.get(pid).copied().unwrap_or(0)) as f64 / 1e9
                })
                .sum(),
        }
    }
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// === measurement ===

struct Row {
    path: String,
    sessions: usize,
    /// Latencies of every measured call, in nanoseconds, sorted.
    latencies: Vec<u64>,
    elapsed: Duration,
    cpu: CpuSplit,
    /// Whether this row has a proxy / its own stdio server CPU column to show.
    proxied: bool,
    /// How the answers came (see `Caller::format`).
    format: &'static str,
}

impl Row {
    fn calls(&self) -> usize {
        self.latencies.len()
    }

    /// Nearest-rank percentile, in microseconds.
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = (p / 100.0 * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index] as f64 / 1000.0
    }

    fn rate(&self) -> f64 {
        self.calls() as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_per_call(&self, seconds: f64) -> f64 {
        seconds * 1e6 / self.calls().max(1) as f64
    }
}

/// One session, calls one after another.
fn sequential(
    path: &str,
    caller: &mut dyn Caller,
    parties: &Parties,
    settings: &Settings,
) -> Result<Row> {
    eprintln!("relay bench: {path}, 1 session…");
    warm_up(caller, settings.warmup, settings.warmup_limit())?;
    let mut latencies = Vec::with_capacity(settings.calls);
    let before = parties.snapshot();
    let start = Instant::now();
    let limit = settings.row_limit();
    while latencies.len() < settings.calls && start.elapsed() < limit {
        latencies.push(caller.call(false)?.as_nanos() as u64);
    }
    let elapsed = start.elapsed();
    let cpu = parties.snapshot().since(&before);
    latencies.sort_unstable();
    Ok(Row {
        path: path.to_owned(),
        sessions: 1,
        latencies,
        elapsed,
        cpu,
        proxied: parties.proxy.is_some(),
        format: caller.format(),
    })
}

fn merge_formats<'a>(mut formats: impl Iterator<Item = &'a str>) -> &'static str {
    let first = formats.next().unwrap_or("none");
    let all_same = formats.all(|f| f == first);
    match first {
        "stdio" if all_same => "stdio",
        "JSON" if all_same => "JSON",
        "SSE" if all_same => "SSE",
        _ => "JSON+SSE",
    }
}

/// `count` fully checked calls, or fewer if they take longer than `limit`.
fn warm_up(caller: &mut dyn Caller, count: usize, limit: Duration) -> Result<()> {
    let start = Instant::now();
    for _ in 0..count {
        caller.call(true)?;
        if start.elapsed() > limit {
            break;
        }
    }
    Ok(())
}

/// Every caller on its own thread, all calling in a loop for `settings.secs` after a warm-up.
fn concurrent<C: Caller>(
    path: &str,
    callers: &mut [C],
    parties: &Parties,
    settings: &Settings,
) -> Result<Row> {
    let count = callers.len();
    eprintln!("relay bench: {path}, {count} sessions…");
    let ready = AtomicUsize::new(0);
    let go = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let (warmup, warmup_limit) = (settings.concurrent_warmup(), settings.warmup_limit());
    let mut row = std::thread::scope(|scope| -> Result<Row> {
        let handles: Vec<_> = callers
            .iter_mut()
            .map(|caller| {
                let (ready, go, stop) = (&ready, &go, &stop);
                scope.spawn(move || -> Result<(Vec<u64>, Instant)> {
                    warm_up(caller, warmup, warmup_limit)?;
                    ready.fetch_add(1, Ordering::AcqRel);
                    while !go.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    let mut latencies = Vec::with_capacity(64 * 1024);
                    while !stop.load(Ordering::Relaxed) {
                        latencies.push(caller.call(false)?.as_nanos() as u64);
                    }
                    Ok((latencies, Instant::now()))
                })
            })
            .collect();
        // Start when every session has warmed up, or at once if one of them failed.
        let deadline = Instant::now() + IO_LIMIT;
        while ready.load(Ordering::Acquire) < handles.len()
            && !handles.iter().any(|h| h.is_finished())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let before = parties.snapshot();
        let start = Instant::now();
        go.store(true, Ordering::Release);
        std::thread::sleep(Duration::from_secs_f64(settings.secs));
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        let mut end = start;
        let mut failure = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok((mine, finished))) => {
                    latencies.extend(mine);
                    end = end.max(finished);
                }
                Ok(Err(e)) => failure = Some(e),
                Err(_) => failure = Some("a session thread panicked".into()),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let cpu = parties.snapshot().since(&before);
        latencies.sort_unstable();
        Ok(Row {
            path: path.to_owned(),
            sessions: count,
            latencies,
            elapsed: end - start,
            cpu,
            proxied: parties.proxy.is_some(),
            format: "",
        })
    })?;
    row.format = merge_formats(callers.iter().map(|c| c.format()));
    Ok(row)
}

struct Memory {
    idle_kib: Option<u64>,
    after_kib: Option<u64>,
    peak_kib: Option<u64>,
    threads_idle: Option<u64>,
}

struct Report {
    rows: Vec<Row>,
    memory: Memory,
}

fn run(settings: &Settings, binary: &Path) -> Result<Report> {
    let mut rows = Vec::new();
    let n = settings.sessions;

    // Direct stdio.
    {
        let mut direct = DirectSession::start(binary)?;
        let parties = Parties {
            proxy: None,
            servers: direct.own_server_pid().into_iter().collect(),
        };
        rows.push(sequential("direct stdio", &mut direct, &parties, settings)?);
    }
    {
        let mut direct = (0..n)
            .map(|_| DirectSession::start(binary))
            .collect::<Result<Vec<_>>>()?;
        let parties = Parties {
            proxy: None,
            servers: direct.iter().filter_map(Caller::own_server_pid).collect(),
        };
        rows.push(concurrent("direct stdio", &mut direct, &parties, settings)?);
    }

    // Through `switchboard serve`.
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.json");
    let command = binary.to_str().ok_or("the binary's path is not UTF-8")?;
    let servers = json!({"mcpServers": {
        "demo": {"command": command, "args": ["demo-server"]},
        "demo-shared": {"command": command, "args": ["demo-server"], "sharing": "shared"},
    }});
    std::fs::write(&config, serde_json::to_vec_pretty(&servers)?)?;
    let mut serve = Serve::start(binary, &config, dir.path().join("serve.log"))?;
    std::thread::sleep(Duration::from_millis(if settings.quick {
        100
    } else {
        500
    }));
    let idle_kib = status_kib(serve.pid(), "VmRSS:");
    let threads_idle = status_kib(serve.pid(), "Threads:");
    let parties = Parties {
        proxy: Some(serve.pid()),
        servers: Vec::new(),
    };

    for (path, server, accept) in [
        ("relay, Accept: json", "demo", ACCEPT_JSON),
        ("relay, Accept: json + event-stream", "demo", ACCEPT_BOTH),
        ("relay, Accept: event-stream", "demo", ACCEPT_SSE),
        ("aggregate /mcp, Accept: json", AGGREGATE, ACCEPT_JSON),
    ] {
        let mut session = HttpSession::open(&serve, server, accept)?;
        let row = sequential(path, &mut session, &parties, settings);
        serve.check_alive()?;
        rows.push(row?);
        session.close()?;
    }
    // 2026-07-28 clients: no session; the demo server is session-era, so these calls take
    // the stateless path through the bridge's one child.
    let mut client = HttpSession::stateless(&serve, "demo", ACCEPT_BOTH)?;
    let row = sequential(
        "relay stateless (2026-07-28, bridged), Accept: json + event-stream",
        &mut client,
        &parties,
        settings,
    );
    serve.check_alive()?;
    rows.push(row?);
    let mut clients = (0..n)
        .map(|_| HttpSession::stateless(&serve, "demo", ACCEPT_BOTH))
        .collect::<Result<Vec<_>>>()?;
    let row = concurrent(
        "relay stateless (2026-07-28, bridged), Accept: json + event-stream",
        &mut clients,
        &parties,
        settings,
    );
    serve.check_alive()?;
    rows.push(row?);
    // The aggregate has no stateless child: its stateless calls ride the session it keeps
    // for them, then the aggregate's own session on demo.
    let mut client = HttpSession::stateless(&serve, AGGREGATE, ACCEPT_BOTH)?;
    let row = sequential(
        "aggregate /mcp stateless (2026-07-28, kept session), Accept: json + event-stream",
        &mut client,
        &parties,
        settings,
    );
    serve.check_alive()?;
    rows.push(row?);
    let mut clients = (0..n)
        .map(|_| HttpSession::stateless(&serve, AGGREGATE, ACCEPT_BOTH))
        .collect::<Result<Vec<_>>>()?;
    let row = concurrent(
        "aggregate /mcp stateless (2026-07-28, kept session), Accept: json + event-stream",
        &mut clients,
        &parties,
        settings,
    );
    serve.check_alive()?;
    rows.push(row?);
    for (path, server, accept) in [
        ("relay per-session, Accept: json", "demo", ACCEPT_JSON),
        (
            "relay shared child, Accept: json",
            "demo-shared",
            ACCEPT_JSON,
        ),
        (
            "relay per-session, Accept: json + event-stream",
            "demo",
            ACCEPT_BOTH,
        ),
        (
            "relay per-session, Accept: event-stream",
            "demo",
            ACCEPT_SSE,
        ),
    ] {
        let mut sessions = (0..n)
            .map(|_| HttpSession::open(&serve, server, accept))
            .collect::<Result<Vec<_>>>()?;
        let row = concurrent(path, &mut sessions, &parties, settings);
        serve.check_alive()?;
        rows.push(row?);
        for session in sessions {
            session.close()?;
        }
    }

    // Sessions are closed; their children stop after stdin EOF.
    let deadline = Instant::now() + IO_LIMIT;
    // The shared child and the stateless clients' (bridge) child stay; per-session ones go.
    while children_of(serve.pid()).len() > 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(if settings.quick {
        100
    } else {
        500
    }));
    serve.check_alive()?;
    let memory = Memory {
        idle_kib,
        after_kib: status_kib(serve.pid(), "VmRSS:"),
        peak_kib: status_kib(serve.pid(), "VmHWM:"),
        threads_idle,
    };
    drop(serve);
    Ok(Report { rows, memory })
}

// === the report ===

struct Machine {
    cpu: String,
    cores: usize,
    memory: String,
    kernel: String,
    load: String,
}

impl Machine {
    fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown CPU".to_owned(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or("?".to_owned(), |kib| {
                format!("{:.1} GiB", kib as f64 / 1048576.0)
            });
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let load = read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory,
            kernel: read("/proc/sys/kernel/osrelease"),
            load,
        }
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

impl Report {
    fn find(&self, path: &str, sessions: usize) -> Option<&Row> {
        // (Only the direct baseline is looked up by name.)
        self.rows
            .iter()
            .find(|r| r.path == path && r.sessions == sessions)
    }

    fn markdown(&self, settings: &Settings, machine: &Machine, binary: &Path) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Relay benchmark\n");
        if settings.quick {
            let _ = writeln!(
                out,
                "**Smoke run** (a handful of calls per row): the numbers below mean nothing.\n"
            );
        }
        let _ = writeln!(
            out,
            "Machine: {} × {}, {}, Linux {}, load average at start {}.  ",
            machine.cores, machine.cpu, machine.memory, machine.kernel, machine.load
        );
        let _ = writeln!(out, "Binary: `{}`.  ", binary.display());
        let _ = writeln!(
            out,
            "Settings: 1-session rows measure {} calls (or stop at {} s) after {} warm-up calls; \
             concurrent rows measure {} s after {} warm-up calls per session (warm-ups stop at \
             {} s).\n",
            settings.calls,
            settings.row_limit().as_secs_f64(),
            settings.warmup,
            settings.secs,
            settings.concurrent_warmup(),
            settings.warmup_limit().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| path | answers | sessions | calls | p50 µs | p90 µs | p99 µs | calls/s | CPU µs/call: bench client | proxy | stdio servers |"
        );
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for row in &self.rows {
            let proxy = if row.proxied {
                format!("{:.1}", row.cpu_per_call(row.cpu.proxy))
            } else {
                "–".to_owned()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {} | {:.1} |",
                row.path,
                row.format,
                row.sessions,
                row.calls(),
                row.percentile(50.0),
                row.percentile(90.0),
                row.percentile(99.0),
                row.rate(),
                row.cpu_per_call(row.cpu.client),
                proxy,
                row.cpu_per_call(row.cpu.servers),
            );
        }
        let _ = writeln!(
            out,
            "\nLatency is one `tools/call echo` round trip as the client sees it (request written → \
             whole answer read). CPU is user + system time from /proc, divided by the calls of \
             the row: clock ticks (10 ms) for the bench process and `switchboard serve`, exact \
             nanoseconds (schedstat) for the stdio servers.\n"
        );

        let _ = writeln!(out, "### Targets\n");
        let n = settings.sessions;
        let direct = self.find("direct stdio", 1);
        for relay in self.rows.iter().filter(|r| r.proxied && r.sessions == 1) {
            let Some(direct) = direct else { break };
            let added = relay.percentile(50.0) - direct.percentile(50.0);
            let _ = writeln!(
                out,
                "- p50 added latency, 1 session, {} ({} answers): {added:.1} µs (target < 100 µs): {}.",
                relay.path,
                relay.format,
                verdict(added < 100.0)
            );
            if (35_000.0..50_000.0).contains(&relay.percentile(50.0)) {
                let _ = writeln!(
                    out,
                    "  About 40 ms a call is the Nagle / delayed-ACK stall: the proxy writes the \
                     SSE headers and, later, the event as two small segments on a socket \
                     without TCP_NODELAY (see BENCHMARKS.md)."
                );
            }
        }
        for row in self.rows.iter().filter(|r| r.proxied && r.sessions == n) {
            let _ = writeln!(
                out,
                "- {} ({} answers), {n} sessions: {:.0} calls/s (target > 10,000 at 16 sessions on 2 cores): {}.",
                row.path,
                row.format,
                row.rate(),
                verdict(row.rate() > 10_000.0)
            );
        }
        let m = &self.memory;
        let idle_met = m.idle_kib.is_some_and(|k| (k as f64) < 15.0 * 1024.0);
        let _ = writeln!(
            out,
            "- `switchboard serve` RSS: idle after start {} ({} threads), idle after the load with \
             every session closed {}, peak {} (target: idle < 15 MiB): {}.",
            mib(m.idle_kib),
            m.threads_idle.map_or("?".to_owned(), |t| t.to_string()),
            mib(m.after_kib),
            mib(m.peak_kib),
            verdict(idle_met)
        );
        out
    }
}
