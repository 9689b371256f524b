//! One stdio child: argv spawn (never a shell), its own process tree, newline framing on
//! stdout, stderr into [`Diagnostics`], and a stop sequence of close stdin → terminate → kill.
//!
//! The process tree is a process group on Unix (SIGTERM, then SIGKILL, to the group) and a
//! Job Object on Windows (terminated as a whole, and closed with kill-on-close, so the OS
//! ends the tree even if Switchboard itself dies). Both come from `process-wrap`.

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use process_wrap::tokio::{ChildWrapper, CommandWrap};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, watch};

use super::Diagnostics;
use super::env::child_env;
use crate::error::{Error, Result};
use crate::mcp::queue::{self, FrameRx, FrameTx, Refused};

/// Why a frame could not be queued for a child's stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotQueued {
    /// Stdin is closed or the child is gone.
    Gone,
    /// The child has not read what waits for it already (`waiting` bytes).
    NotReading { waiting: usize },
}

/// What to run. Built from a `ServerConfig`; values are final (secrets already resolved).
#[derive(Clone)]
pub struct ChildSpec {
    pub server: Arc<str>,
    pub program: String,
    pub args: Vec<String>,
    /// Merged over the inherited base; values may be secrets and are never logged.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// The PATH the child gets instead of Switchboard's own (the server's `env` can still
    /// set one). The desktop app passes its user's login-shell PATH here.
    pub path: Option<OsString>,
    /// The longest stdout line accepted; longer lines are reported and skipped.
    pub max_frame_bytes: usize,
    /// Bytes that may wait for the child to read its stdin; past it, messages are refused
    /// (a child that stops reading must not make Switchboard hold everything sent to it).
    pub max_stdin_queue_bytes: usize,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("server", &self.server)
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("path", &self.path)
            .finish()
    }
}

/// How long each step of [`ManagedChild::stop`] waits before the next, firmer one.
#[derive(Debug, Clone, Copy)]
pub struct StopGrace {
    pub after_stdin_close: Duration,
    /// After SIGTERM to the group. Windows has no such signal for a console program: its
    /// second step already ends the Job Object, so this is only how long that may take.
    pub after_sigterm: Duration,
}

impl Default for StopGrace {
    fn default() -> Self {
        StopGrace {
            after_stdin_close: Duration::from_secs(2),
            after_sigterm: Duration::from_secs(2),
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "signal {signal}"),
            (None, None) => f.write_str("closed its stdout"),
        }
    }
}

/// Why the receiver of a stdout line refused it.
#[derive(Debug)]
pub struct FrameRejected(pub String);

/// Receives what a child writes. Called from the child's reader task, in stdout order.
pub trait ChildSink: Send + Sync + 'static {
    /// One stdout line (without its newline). Refusing it reports the line as non-JSON-RPC.
    fn on_frame(&self, frame: Bytes) -> Result<(), FrameRejected>;
    /// After a frame: a wait before the next one is read, when whoever it went to is
    /// behind (backpressure: the child's stdout pipe fills and its writes block, rather
    /// than Switchboard holding what it says). `None` to read on at once.
    fn room(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        None
    }
    /// The child is gone (or closed stdout); called once, after the last frame.
    fn on_exit(&self, exit: &ExitInfo);
}

/// What [`ManagedChild::stop`] and drop ask of the task that owns the process.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// SIGTERM to the group (Unix); the whole job ended (Windows).
    Terminate,
    /// SIGKILL to the group (Unix); the whole job ended (Windows).
    Kill,
}

/// The owner of one child process. Dropping it kills the child's process group (Unix) or
/// Job Object (Windows).
pub struct ManagedChild {
    server: Arc<str>,
    pid: u32,
    /// To the task that owns the process and waits for it.
    ending: mpsc::UnboundedSender<Ending>,
    stdin: Mutex<Option<FrameTx>>,
    exited: watch::Receiver<Option<ExitInfo>>,
    diagnostics: Arc<Diagnostics>,
}

impl ManagedChild {
    /// Starts the child. `sink` is held weakly: once its owner is gone, output is dropped.
    pub fn spawn(
        spec: &ChildSpec,
        sink: Weak<dyn ChildSink>,
        diagnostics: Arc<Diagnostics>,
    ) -> Result<ManagedChild> {
        let env = child_env(
            |name| std::env::var_os(name),
            std::env::vars_os(),
            spec.path.as_deref(),
            &spec.env,
        );
        // Windows: `npx` is `npx.cmd`, found through the child's PATH and PATHEXT (see
        // `program.rs`). Elsewhere the OS searches the child's PATH itself.
        #[cfg(windows)]
        let program: OsString = super::program::resolve_on_windows(
            &spec.program,
            super::env::value_of(&env, "PATH"),
            super::env::value_of(&env, "PATHEXT"),
            std::path::Path::is_file,
        )
        .map_or_else(|| OsString::from(&spec.program), PathBuf::into_os_string);
        #[cfg(not(windows))]
        let program = OsString::from(&spec.program);

        let mut command = Command::new(&program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let mut command = CommandWrap::from(command);
        // Its own process group, so a stop reaches grandchildren (npx → node, uvx → python)
        // and a Ctrl-C in our terminal does not reach the child before we stop it.
        #[cfg(unix)]
        command.wrap(process_wrap::tokio::ProcessGroup::leader());
        // A Job Object that the child joins before it runs (it starts suspended), which its
        // children join too, and which ends them all when its last handle closes: when the
        // task below drops it, or when this process dies. No console window either: the
        // desktop app has none to share, and a child would otherwise flash one up.
        #[cfg(windows)]
        command
            .wrap(process_wrap::tokio::CreationFlags(
                windows::Win32::System::Threading::CREATE_NO_WINDOW,
            ))
            .wrap(process_wrap::tokio::JobObject)
            .wrap(process_wrap::tokio::KillOnDrop);

        let mut child = command.spawn().map_err(|source| Error::Spawn {
            server: spec.server.to_string(),
            program: spec.program.clone(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        log::info!(
            "started server '{}' (pid {pid}): {} {:?}",
            spec.server,
            program.to_string_lossy(),
            spec.args
        );

        let (stdin_tx, stdin_rx) = queue::channel(spec.max_stdin_queue_bytes);
        let (exit_tx, exit_rx) = watch::channel(None);
        let (ending_tx, ending_rx) = mpsc::unbounded_channel();
        let stdin = child.stdin().take().expect("stdin is piped");
        let stdout = child.stdout().take().expect("stdout is piped");
        let stderr = child.stderr().take().expect("stderr is piped");

        tokio::spawn(write_stdin(stdin, stdin_rx));
        tokio::spawn(read_stderr(
            stderr,
            spec.server.clone(),
            diagnostics.clone(),
        ));
        tokio::spawn(read_stdout(
            stdout,
            sink,
            spec.server.clone(),
            spec.max_frame_bytes,
            diagnostics.clone(),
            exit_rx.clone(),
            ending_tx.clone(),
        ));
        let server = spec.server.clone();
        tokio::spawn(async move {
            let info = own_until_exit(child, ending_rx, &server, pid).await;
            log::info!("server '{server}' (pid {pid}) ended: {info}");
            let _ = exit_tx.send(Some(info));
        });

        Ok(ManagedChild {
            server: spec.server.clone(),
            pid,
            ending: ending_tx,
            stdin: Mutex::new(Some(stdin_tx)),
            exited: exit_rx,
            diagnostics,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn diagnostics(&self) -> &Arc<Diagnostics> {
        &self.diagnostics
    }

    /// Queues one frame for the child's stdin. The frame must not contain a newline.
    /// Returns false once stdin is closed or the child is gone, or when the child has
    /// stopped reading (see [`ManagedChild::queue`]).
    pub fn send(&self, frame: Bytes) -> bool {
        self.queue(frame).is_ok()
    }

    /// Queues one frame for the child's stdin, saying why not when it cannot.
    pub fn queue(&self, frame: Bytes) -> std::result::Result<(), NotQueued> {
        debug_assert!(
            memchr::memchr(b'\n', &frame).is_none(),
            "frames are single lines"
        );
        let stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = &*stdin else {
            return Err(NotQueued::Gone);
        };
        match tx.send(frame) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(_)) => Err(NotQueued::Gone),
            Err(Refused::Full { waiting, .. }) => {
                log::warn!(
                    "server '{}' (pid {}) is not reading its input: {waiting} bytes wait for it \
                     (switchboard.limits.maxStreamQueueBytes); refusing a message",
                    self.server,
                    self.pid
                );
                Err(NotQueued::NotReading { waiting })
            }
        }
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Waits until the child has exited.
    pub async fn wait(&self) -> ExitInfo {
        let mut rx = self.exited.clone();
        loop {
            if let Some(info) = rx.borrow_and_update().clone() {
                return info;
            }
            if rx.changed().await.is_err() {
                return ExitInfo {
                    code: None,
                    signal: None,
                };
            }
        }
    }

    /// Close stdin and wait; then SIGTERM the group (Unix) or end the Job Object (Windows)
    /// and wait; then SIGKILL the group.
    pub async fn stop(&self, grace: StopGrace) -> ExitInfo {
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Ok(info) = tokio::time::timeout(grace.after_stdin_close, self.wait()).await {
            return info;
        }
        log::debug!(
            "server '{}' (pid {}) ignored stdin EOF; sending SIGTERM",
            self.server,
            self.pid
        );
        let _ = self.ending.send(Ending::Terminate);
        if let Ok(info) = tokio::time::timeout(grace.after_sigterm, self.wait()).await {
            return info;
        }
        log::warn!(
            "server '{}' (pid {}) ignored SIGTERM; killing it",
            self.server,
            self.pid
        );
        let _ = self.ending.send(Ending::Kill);
        self.wait().await
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        if !self.has_exited() {
            // Here and now, not through the task: when the runtime is shutting down, the
            // task may never run again. (On Windows the task dropping the Job Object, or
            // this process ending, closes it, and kill-on-close ends the tree.)
            #[cfg(unix)]
            kill_group(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = self.ending.send(Ending::Kill);
        }
    }
}

/// Owns the process until its leader exits: delivers what `stop` and drop ask for (the
/// channel closing means the [`ManagedChild`] is gone: kill), then, once the leader has
/// exited, kills whatever it left behind in its group or job.
async fn own_until_exit(
    mut child: Box<dyn ChildWrapper>,
    mut ending: mpsc::UnboundedReceiver<Ending>,
    server: &str,
    pid: u32,
) -> ExitInfo {
    let mut owner_gone = false;
    let status = loop {
        // The leader only: process-wrap's own `wait` on Windows waits for the whole job,
        // and here the leader's exit is the end of the server, as on Unix.
        let leader = child.inner_mut().wait();
        let asked = tokio::select! {
            status = leader => break status,
            asked = ending.recv(), if !owner_gone => asked,
        };
        let asked = asked.unwrap_or_else(|| {
            owner_gone = true;
            Ending::Kill
        });
        if let Err(e) = end(child.as_mut(), asked) {
            log::debug!("server '{server}' (pid {pid}): {asked:?} failed: {e}");
        }
    };
    // Whatever the leader left behind in its group goes with it.
    let _ = end(child.as_mut(), Ending::Kill);
    match status {
        Ok(status) => exit_info(status),
        Err(e) => {
            log::warn!("waiting for server '{server}' (pid {pid}) failed: {e}");
            ExitInfo {
                code: None,
                signal: None,
            }
        }
    }
}

#[cfg(unix)]
fn end(child: &mut dyn ChildWrapper, ending: Ending) -> std::io::Result<()> {
    use nix::sys::signal::Signal;
    let signal = match ending {
        Ending::Terminate => Signal::SIGTERM,
        Ending::Kill => Signal::SIGKILL,
    };
    match child.signal(signal as i32) {
        // Already gone: the common, harmless case.
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ESRCH as i32) => Ok(()),
        other => other,
    }
}

#[cfg(windows)]
fn end(child: &mut dyn ChildWrapper, _ending: Ending) -> std::io::Result<()> {
    // TerminateJobObject: every process of the job, at once.
    child.start_kill()
}

#[cfg(unix)]
fn kill_group(pid: u32, signal: nix::sys::signal::Signal) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid <= 1 {
        return;
    }
    // ESRCH (already gone) is the common, harmless case.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
}

#[cfg(unix)]
fn exit_info(status: std::process::ExitStatus) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    ExitInfo {
        code: status.code(),
        signal: status.signal(),
    }
}

#[cfg(not(unix))]
fn exit_info(status: std::process::ExitStatus) -> ExitInfo {
    ExitInfo {
        code: status.code(),
        signal: None,
    }
}

async fn write_stdin(stdin: ChildStdin, mut frames: FrameRx) {
    let mut writer = BufWriter::with_capacity(64 * 1024, stdin);
    while let Some(frame) = frames.recv().await {
        if write_frame(&mut writer, &frame).await.is_err() {
            return;
        }
        // Batch whatever else is already queued, then flush once.
        while let Ok(frame) = frames.try_recv() {
            if write_frame(&mut writer, &frame).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
    // Channel closed: dropping the writer closes the child's stdin (EOF), the polite stop.
    let _ = writer.shutdown().await;
}

async fn write_frame<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    frame: &[u8],
) -> std::io::Result<()> {
    writer.write_all(frame).await?;
    writer.write_all(b"\n").await
}

async fn read_stderr(
    stderr: impl AsyncRead + Unpin,
    server: Arc<str>,
    diagnostics: Arc<Diagnostics>,
) {
    let mut lines = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read_line(&mut lines, &mut buf, 64 * 1024).await {
            Ok(Line::Eof) | Err(_) => return,
            Ok(Line::TooLong) => diagnostics.push_stderr("<stderr line too long; skipped>"),
            Ok(Line::Complete) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end();
                log::info!(target: "switchboard::child::stderr", "[{server}] {line}");
                diagnostics.push_stderr(line);
            }
        }
    }
}

async fn read_stdout(
    stdout: impl AsyncRead + Unpin,
    sink: Weak<dyn ChildSink>,
    server: Arc<str>,
    max_frame_bytes: usize,
    diagnostics: Arc<Diagnostics>,
    mut exited: watch::Receiver<Option<ExitInfo>>,
    ending: mpsc::UnboundedSender<Ending>,
) {
    // A pipe read returns at most 64 KiB; a bigger buffer only costs memory per session.
    let mut reader = BufReader::with_capacity(16 * 1024, stdout);
    let mut buf = Vec::new();
    loop {
        match read_line(&mut reader, &mut buf, max_frame_bytes).await {
            Ok(Line::Complete) => {
                let end = buf
                    .iter()
                    .rposition(|b| !b.is_ascii_whitespace())
                    .map_or(0, |i| i + 1);
                if end == 0 {
                    buf.clear();
                    continue;
                }
                buf.truncate(end);
                let frame = Bytes::from(std::mem::take(&mut buf));
                let Some(sink) = sink.upgrade() else { continue };
                if let Err(FrameRejected(reason)) = sink.on_frame(frame) {
                    log::warn!(
                        "server '{server}' wrote something other than JSON-RPC to stdout ({reason}); not relayed"
                    );
                    diagnostics.record_invalid_stdout(&reason);
                }
                let room = sink.room();
                drop(sink);
                if let Some(room) = room {
                    room.await;
                }
            }
            Ok(Line::TooLong) => {
                let reason = format!("a line longer than {max_frame_bytes} bytes");
                log::warn!("server '{server}' wrote {reason} to stdout; skipped");
                diagnostics.record_invalid_stdout(&reason);
                buf.clear();
            }
            Ok(Line::Eof) | Err(_) => break,
        }
    }
    // stdout is closed: the link is over. Report the exit status if it follows shortly.
    let info = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(info) = exited.borrow_and_update().clone() {
                return info;
            }
            if exited.changed().await.is_err() {
                return ExitInfo {
                    code: None,
                    signal: None,
                };
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        // It runs on without a way to answer: nobody can use it, and its session is about
        // to end without stopping it (the session ends because of this very exit). End it
        // now rather than leave it running, unlisted, until its `ManagedChild` is dropped.
        log::warn!("server '{server}' closed its stdout but kept running; killing it");
        let _ = ending.send(Ending::Kill);
        ExitInfo {
            code: None,
            signal: None,
        }
    });
    if let Some(sink) = sink.upgrade() {
        sink.on_exit(&info);
    }
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// Reads up to the next newline into `buf` (newline excluded). A line past `max` bytes is
/// consumed and discarded whole, so one bad line cannot desynchronise the framing.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (too_long, buf.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => Line::Complete,
            });
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Result<String, ()>> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            match read_line(&mut reader, &mut buf, max).await.unwrap() {
                Line::Complete => {
                    out.push(Ok(String::from_utf8(std::mem::take(&mut buf)).unwrap()))
                }
                Line::TooLong => {
                    buf.clear();
                    out.push(Err(()))
                }
                Line::Eof => return out,
            }
        }
    }

    #[tokio::test]
    async fn framing_splits_on_newlines_across_buffer_boundaries() {
        let got = lines(b"{\"a\":1}\n{\"bb\":22}\nlast", 100).await;
        assert_eq!(
            got,
            vec![
                Ok("{\"a\":1}".into()),
                Ok("{\"bb\":22}".into()),
                Ok("last".into())
            ]
        );
    }

    #[tokio::test]
    async fn an_overlong_line_is_skipped_whole() {
        let got = lines(b"short\nthis line is far too long\nok\n", 10).await;
        assert_eq!(got, vec![Ok("short".into()), Err(()), Ok("ok".into())]);
    }
}
