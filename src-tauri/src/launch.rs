//! Where the config lives and which port to use: command line, then environment, then defaults.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use switchboard_core::secrets::Sensitive;

/// Overrides the config file (tests point it at a temporary file).
pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";
/// Overrides the port from the config file.
pub const PORT_ENV: &str = "SWITCHBOARD_PORT";
/// An API key to use instead of the keychain's (headless test runs, machines without one).
pub const API_KEY_ENV: &str = "SWITCHBOARD_API_KEY";

/// What the app was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub config_path: PathBuf,
    /// Whether `config_path` is the default one (what `switchboard` finds by itself).
    pub config_is_default: bool,
    /// `None`: the config's port, else the default.
    pub port: Option<u16>,
    /// Where `port` came from: `--port` or [`PORT_ENV`]. Such a launch uses that port, not
    /// the one saved in the config (the window says so next to the port setting).
    pub port_source: Option<&'static str>,
    /// The executable the first-run config runs as `program demo-server`.
    pub program: PathBuf,
    /// `None`: the key in the OS keychain (created on first run).
    pub api_key: Option<Sensitive<String>>,
    /// Where server secrets are kept: the OS keychain, or memory (tests).
    pub secrets: SecretsIn,
    /// The folder of XDG autostart entries (`$XDG_CONFIG_HOME/autostart`) that "Start at
    /// login" writes to, on Linux; `None` elsewhere (macOS and Windows use the OS's own
    /// login items, see `autostart.rs`).
    pub autostart_dir: Option<PathBuf>,
    /// The PATH the servers' children get instead of this process's own: the login
    /// shell's, found by `run` (see `login_path`); `None` from `parse`, and in tests.
    pub child_path: Option<OsString>,
}

/// Where the shell keeps server secrets and (without an explicit key) the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsIn {
    Keychain,
    /// A fresh in-memory store, gone with the process: for tests, never a user's fallback.
    Memory,
}

/// A command line or environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchError(String);

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LaunchError {}

impl Launch {
    /// From this process's arguments (without the program name) and environment.
    pub fn from_env(args: impl IntoIterator<Item = OsString>) -> Result<Launch, LaunchError> {
        let program = std::env::current_exe()
            .map_err(|e| LaunchError(format!("cannot find this program's own path: {e}")))?;
        Launch::parse(
            args,
            |name| std::env::var_os(name),
            dirs::config_dir(),
            program,
        )
    }

    /// The pure part of [`Launch::from_env`], for tests.
    pub fn parse(
        args: impl IntoIterator<Item = OsString>,
        env: impl Fn(&str) -> Option<OsString>,
        config_dir: Option<PathBuf>,
        program: PathBuf,
    ) -> Result<Launch, LaunchError> {
        let mut config_path = None;
        let mut port = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy();
            let (flag, inline) = match text.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag, Some(OsString::from(value)))
                }
                _ => (text.as_ref(), None),
            };
            let mut value = |flag: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| LaunchError(format!("{flag} needs a value")))
            };
            match flag {
                "--config" => config_path = Some(PathBuf::from(value("--config")?)),
                "--port" => port = Some(parse_port("--port", &value("--port")?)?),
                _ => {
                    return Err(LaunchError(format!(
                        "unknown argument '{text}' (usage: switchboard-desktop [--config PATH] [--port N])"
                    )));
                }
            }
        }
        let given =
            config_path.or_else(|| env(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
        let config_is_default = given.is_none();
        let config_path = match given {
            Some(path) => path,
            None => config_dir
                .as_ref()
                .map(|dir| dir.join("switchboard").join("config.json"))
                .ok_or_else(|| {
                    LaunchError(format!(
                        "this system has no config directory; pass --config PATH or set {CONFIG_ENV}"
                    ))
                })?,
        };
        let (port, port_source) = match port {
            Some(port) => (Some(port), Some("--port")),
            None => {
                let port = env(PORT_ENV)
                    .filter(|v| !v.is_empty())
                    .map(|v| parse_port(PORT_ENV, &v))
                    .transpose()?;
                (port, port.map(|_| PORT_ENV))
            }
        };
        let api_key = env(API_KEY_ENV)
            .and_then(|v| v.into_string().ok())
            .filter(|v| !v.is_empty())
            .map(Sensitive::new);
        let autostart_dir = if cfg!(target_os = "linux") {
            config_dir.map(|dir| dir.join("autostart"))
        } else {
            None
        };
        Ok(Launch {
            config_path,
            config_is_default,
            port,
            port_source,
            program,
            api_key,
            secrets: SecretsIn::Keychain,
            autostart_dir,
            child_path: None,
        })
    }
}

fn parse_port(source: &str, value: &OsString) -> Result<u16, LaunchError> {
    value
        .to_str()
        .and_then(|v| v.trim().parse::<u16>().ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| {
            LaunchError(format!(
                "{source}: '{}' is not a port number (1 to 65535)",
                value.to_string_lossy()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Launch, LaunchError> {
        let env: Vec<(String, OsString)> =
            env.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        Launch::parse(
            args.iter().map(OsString::from),
            |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            Some(PathBuf::from("/home/u/.config")),
            PathBuf::from("/opt/switchboard"),
        )
    }

    #[test]
    fn defaults_to_the_os_config_dir_and_no_port() {
        let launch = parse(&[], &[]).unwrap();
        assert_eq!(
            launch.config_path,
            PathBuf::from("/home/u/.config/switchboard/config.json")
        );
        assert_eq!((launch.port, launch.port_source), (None, None));
        assert!(launch.config_is_default);
    }

    #[test]
    fn arguments_beat_the_environment() {
        let env = [(CONFIG_ENV, "/env/c.json"), (PORT_ENV, "4000")];
        let launch = parse(&[], &env).unwrap();
        assert!(!launch.config_is_default);
        assert_eq!(
            (launch.config_path, launch.port, launch.port_source),
            (PathBuf::from("/env/c.json"), Some(4000), Some(PORT_ENV))
        );
        let launch = parse(&["--config", "/arg/c.json", "--port=5000"], &env).unwrap();
        assert_eq!(
            (launch.config_path, launch.port, launch.port_source),
            (PathBuf::from("/arg/c.json"), Some(5000), Some("--port"))
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse(&["--port", "0"], &[]).is_err());
        assert!(parse(&["--port"], &[]).is_err());
        assert!(parse(&["--bogus"], &[]).is_err());
        assert!(parse(&[], &[(PORT_ENV, "http")]).is_err());
    }
}
