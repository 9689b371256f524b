//! The PATH of the user's login shell, for the servers' children.
//!
//! An app started from the Dock (macOS) or a desktop menu (Linux) inherits the session's
//! short default PATH, without what the shell profile adds (`~/.nvm/…/bin`,
//! `/opt/homebrew/bin`, `~/.local/bin`), so `"command": "npx"` or `"uvx"` would not be
//! found although it works in a terminal. So once, at startup, the app asks the user's own
//! shell (`$SHELL`) for its PATH and hands the merge to the core as the children's PATH
//! (the core never looks this up itself).
//!
//! The shell runs as an interactive login shell (`-i -l -c`): nvm, pyenv and most version
//! managers are set up in `.zshrc`/`.bashrc`, which a non-interactive shell skips. Its
//! standard input is empty, its output is read only between two markers (profiles print
//! banners), it gets [`TIMEOUT`], and the command it runs is a constant: nothing from the
//! user or the config is put into it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long the shell may take; a slow profile costs at most this much of the start.
pub const TIMEOUT: Duration = Duration::from_secs(5);

const BEGIN: &str = "__SWITCHBOARD_PATH_BEGIN__";
const END: &str = "__SWITCHBOARD_PATH_END__";

/// What the shell runs: `echo` and `printenv` exist in sh, bash, zsh and fish alike.
const SCRIPT: &str =
    "echo __SWITCHBOARD_PATH_BEGIN__; printenv PATH; echo __SWITCHBOARD_PATH_END__";

/// The PATH for children: the login shell's entries first, then this process's own that
/// the shell does not have. `None` (children keep this process's PATH) when there is no
/// usable `$SHELL` or it gave no answer in time.
pub fn child_path() -> Option<OsString> {
    let shell = std::env::var_os("SHELL")?;
    let shell = Path::new(&shell);
    if !shell.is_absolute() {
        log::warn!("SHELL is not an absolute path; servers get this app's own PATH");
        return None;
    }
    match login_shell_path(login_shell_command(shell), TIMEOUT) {
        Ok(login) => {
            let merged = merge(&login, std::env::var_os("PATH").as_deref());
            log::info!(
                "servers get the PATH of the login shell {} ({} entries)",
                shell.display(),
                std::env::split_paths(&merged).count()
            );
            Some(merged)
        }
        Err(why) => {
            log::warn!(
                "cannot read the PATH of the login shell {}: {why}; servers get this app's own PATH",
                shell.display()
            );
            None
        }
    }
}

/// `shell -i -l -c SCRIPT`, with nothing on its standard input.
pub fn login_shell_command(shell: &Path) -> Command {
    let mut command = Command::new(shell);
    command
        .args(["-i", "-l", "-c", SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // oh-my-zsh asks whether to update; this says no before it asks.
        .env("DISABLE_AUTO_UPDATE", "true");
    command
}

/// Runs a [`login_shell_command`] and returns the PATH it printed within `timeout`.
pub fn login_shell_path(mut command: Command, timeout: Duration) -> Result<String, String> {
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Read up to the end marker only: a daemon the profile starts may hold stdout open.
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            output.extend_from_slice(&line);
            let done = line.trim_ascii_end() == END.as_bytes();
            line.clear();
            if done {
                break;
            }
        }
        let _ = tx.send(output);
    });
    let output = rx.recv_timeout(timeout);
    // Done with it either way (an exited shell makes this a no-op).
    let _ = child.kill();
    let _ = child.wait();
    let output = output.map_err(|_| format!("no answer within {} s", timeout.as_secs()))?;
    parse(&output).ok_or_else(|| "its output had no PATH between the markers".to_owned())
}

/// The PATH between the markers in the shell's output; whatever the profile printed around
/// them is ignored.
pub fn parse(output: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(output).ok()?;
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    lines.find(|l| l.trim() == BEGIN)?;
    let value = lines.next()?;
    if lines.next()?.trim() != END {
        return None;
    }
    let value = value.trim();
    (!value.is_empty() && value != END).then(|| value.to_owned())
}

/// `login`'s entries, then those of `own` that `login` lacks; empty entries (which mean
/// "the current folder") and repeats are dropped.
pub fn merge(login: &str, own: Option<&std::ffi::OsStr>) -> OsString {
    let mut entries: Vec<std::path::PathBuf> = Vec::new();
    let own = own.map(std::env::split_paths).into_iter().flatten();
    for entry in std::env::split_paths(login).chain(own) {
        if !entry.as_os_str().is_empty() && !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    // Entries came from splitting, so none holds the separator.
    std::env::join_paths(entries).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_read_between_the_markers_whatever_the_profile_prints() {
        let output = b"Welcome back!\n\x1b[1mnvm\x1b[0m: using node 22\n\
            __SWITCHBOARD_PATH_BEGIN__\n\
            /home/ada/.nvm/versions/node/v22/bin:/usr/local/bin:/usr/bin\n\
            __SWITCHBOARD_PATH_END__\ntrailing noise\n";
        assert_eq!(
            parse(output).as_deref(),
            Some("/home/ada/.nvm/versions/node/v22/bin:/usr/local/bin:/usr/bin")
        );
        // CRLF, as some Windows-edited profiles leave behind.
        let crlf = b"__SWITCHBOARD_PATH_BEGIN__\r\n/a:/b\r\n__SWITCHBOARD_PATH_END__\r\n";
        assert_eq!(parse(crlf).as_deref(), Some("/a:/b"));
    }

    #[test]
    fn output_without_both_markers_or_a_value_gives_nothing() {
        for output in [
            &b""[..],
            b"/usr/bin\n",
            b"__SWITCHBOARD_PATH_BEGIN__\n/usr/bin\n",
            b"__SWITCHBOARD_PATH_BEGIN__\n__SWITCHBOARD_PATH_END__\n",
            b"__SWITCHBOARD_PATH_BEGIN__\n\n__SWITCHBOARD_PATH_END__\n",
            b"__SWITCHBOARD_PATH_BEGIN__\n/a\n/b\n__SWITCHBOARD_PATH_END__\n",
            b"__SWITCHBOARD_PATH_BEGIN__\n\xff\xfe\n__SWITCHBOARD_PATH_END__\n",
        ] {
            assert_eq!(parse(output), None, "{:?}", String::from_utf8_lossy(output));
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_login_shells_entries_come_first_and_nothing_twice() {
        let merged = merge(
            "/opt/homebrew/bin:/usr/bin::/bin",
            Some(std::ffi::OsStr::new(
                "/usr/bin:/bin:/usr/sbin:/opt/homebrew/bin",
            )),
        );
        assert_eq!(merged, "/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin");
        assert_eq!(merge("/a", None), "/a");
    }

    /// A real shell: the same `-i -l -c` call, with a profile that prints a banner and sets
    /// PATH the way nvm's installer does, under a private HOME.
    #[cfg(unix)]
    #[test]
    fn a_real_login_shell_reports_what_its_profile_sets() {
        let Some(bash) = ["/bin/bash", "/usr/bin/bash"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.is_file())
        else {
            panic!("this test needs bash");
        };
        let home = tempfile::tempdir().unwrap();
        let profile = "echo 'Welcome!'\nexport PATH=\"$HOME/.nvm/bin:$PATH\"\n";
        std::fs::write(home.path().join(".bash_profile"), profile).unwrap();
        let mut command = login_shell_command(bash);
        command
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", "/usr/bin:/bin");
        let path = login_shell_path(command, TIMEOUT).unwrap();
        // The profile's entry first; the rest is the system's (/etc/profile may set its own).
        let nvm = format!("{}/.nvm/bin", home.path().display());
        let entries: Vec<&str> = path.split(':').collect();
        assert_eq!(entries[0], nvm, "{path}");
        assert!(entries.contains(&"/usr/bin"), "{path}");
    }

    #[cfg(unix)]
    #[test]
    fn a_shell_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let shell = dir.path().join("slow-shell");
        std::fs::write(&shell, "#!/bin/sh\nsleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
        let started = std::time::Instant::now();
        // A script written a moment ago may still be open for writing in a child that another
        // test thread is forking (until that child's exec closes it): exec then fails with
        // "Text file busy" (ETXTBSY). That is the test's race, not the shell's answer: retry.
        let error = loop {
            let error = login_shell_path(login_shell_command(&shell), Duration::from_millis(300))
                .unwrap_err();
            if !error.contains("os error 26") || started.elapsed() > Duration::from_secs(20) {
                break error;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(error.contains("no answer"), "{error}");
        // Well short of the shell's 30 s: it was ended, not waited for.
        assert!(started.elapsed() < Duration::from_secs(25));
    }
}
