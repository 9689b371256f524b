//! The desktop app's command line: the launch options it shares with `switchboard serve`,
//! resolved by core's startup rule ([`switchboard_core::startup`]: config file, port and API
//! key from the command line, then the environment, then the defaults), plus what only the
//! shell needs (its own path, the autostart folder).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use switchboard_core::clients::{Os, Places};
pub use switchboard_core::startup::PORT_ENV;
use switchboard_core::startup::{ConfigSource, LaunchArgs, LaunchEnv, Startup, default_config_in};

/// `switchboard-desktop [--config PATH] [--port N] [--api-key KEY | --insecure-no-auth]`
#[derive(Debug, Parser)]
#[command(
    name = "switchboard-desktop",
    version,
    about = "Switchboard's tray app: your local MCP servers behind one loopback proxy"
)]
pub struct DesktopArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
}

/// What the app was started with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The config file, the port given at launch and the key decision.
    pub startup: Startup,
    /// The executable the first-run config runs as `program demo-server`.
    pub program: PathBuf,
    /// Where server secrets are kept: the OS keychain, or memory (tests).
    pub secrets: SecretsIn,
    /// The folder of XDG autostart entries (`$XDG_CONFIG_HOME/autostart`) that "Start at
    /// login" writes to, on Linux; `None` elsewhere (macOS and Windows use the OS's own
    /// login items, see `autostart.rs`).
    pub autostart_dir: Option<PathBuf>,
    /// The PATH the servers' children get instead of this process's own: the login
    /// shell's, found by `run` (see `login_path`); `None` from `parse`, and in tests.
    pub child_path: Option<OsString>,
    /// Where other MCP clients keep their configs (import, connect): the home and the OS
    /// config directory, which on Linux follow `$HOME` and `$XDG_CONFIG_HOME`; `None` on a
    /// system without them. Tests point it at a temporary directory.
    pub places: Option<Places>,
}

/// Where the shell keeps server secrets and (without an explicit key) the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsIn {
    Keychain,
    /// A fresh in-memory store, gone with the process: for tests, never a user's fallback.
    Memory,
}

/// A command line or environment that cannot be used.
#[derive(Debug)]
pub enum LaunchError {
    /// Not a command line clap accepts (or `--help`, `--version`).
    Usage(clap::Error),
    /// The startup rule refused it (a bad `SWITCHBOARD_PORT`, a short key, no config dir).
    Startup(switchboard_core::Error),
    /// This program's own path is unknown.
    NoProgram(std::io::Error),
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::Usage(e) => write!(f, "{e}"),
            LaunchError::Startup(e) => write!(f, "{e}"),
            LaunchError::NoProgram(e) => write!(f, "cannot find this program's own path: {e}"),
        }
    }
}

impl std::error::Error for LaunchError {}

impl LaunchError {
    /// Says what is wrong (help and version go to stdout, as clap prints them) and gives
    /// the exit code: 0 after `--help`, else 2.
    pub fn report(&self) -> ExitCode {
        match self {
            LaunchError::Usage(e) => {
                let _ = e.print();
                ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
            }
            other => {
                eprintln!("switchboard-desktop: {other}");
                ExitCode::from(2)
            }
        }
    }
}

impl Launch {
    /// From this process's arguments (without the program name) and environment.
    pub fn from_env(args: impl IntoIterator<Item = OsString>) -> Result<Launch, LaunchError> {
        let program = std::env::current_exe().map_err(LaunchError::NoProgram)?;
        let mut launch = Launch::parse(
            args,
            &LaunchEnv::from_process(),
            dirs::config_dir(),
            program,
        )?;
        launch.places = client_places(dirs::home_dir(), dirs::config_dir());
        Ok(launch)
    }

    /// The pure part of [`Launch::from_env`], for tests.
    pub fn parse(
        args: impl IntoIterator<Item = OsString>,
        env: &LaunchEnv,
        config_dir: Option<PathBuf>,
        program: PathBuf,
    ) -> Result<Launch, LaunchError> {
        let argv = std::iter::once(OsString::from("switchboard-desktop")).chain(args);
        let args = DesktopArgs::try_parse_from(argv).map_err(LaunchError::Usage)?;
        let default_config = config_dir.as_deref().map(default_config_in);
        let startup =
            Startup::resolve(args.launch, env, default_config).map_err(LaunchError::Startup)?;
        let autostart_dir = if cfg!(target_os = "linux") {
            config_dir.map(|dir| dir.join("autostart"))
        } else {
            None
        };
        Ok(Launch {
            startup,
            program,
            secrets: SecretsIn::Keychain,
            autostart_dir,
            child_path: None,
            places: None,
        })
    }

    /// The port given at launch and how (`--port` or `SWITCHBOARD_PORT`): such a launch uses
    /// it, not the one saved in the config (the window says so next to the port setting).
    pub fn port_override(&self) -> Option<(u16, &'static str)> {
        self.startup
            .port
            .map(|given| (given.port, given.source.name()))
    }

    /// The config file when it is not the default one (`--config`, `SWITCHBOARD_CONFIG`).
    pub fn config_override(&self) -> Option<PathBuf> {
        (self.startup.config_source != ConfigSource::Default)
            .then(|| self.startup.config_path.clone())
    }
}

/// The directories other clients' configs are under, as `dirs` finds them (core never
/// looks them up itself).
fn client_places(home: Option<PathBuf>, config_dir: Option<PathBuf>) -> Option<Places> {
    Some(Places {
        os: Os::current(),
        home: home?,
        config_dir: config_dir?,
        project: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::startup::{CONFIG_ENV, KeyChoice};

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Launch, LaunchError> {
        let env: Vec<(String, OsString)> =
            env.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        Launch::parse(
            args.iter().map(OsString::from),
            &LaunchEnv::from_lookup(|name| {
                env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            }),
            Some(PathBuf::from("/home/u/.config")),
            PathBuf::from("/opt/switchboard"),
        )
    }

    #[test]
    fn defaults_to_the_os_config_dir_and_no_port() {
        let launch = parse(&[], &[]).unwrap();
        assert_eq!(
            launch.startup.config_path,
            PathBuf::from("/home/u/.config/switchboard/config.json")
        );
        assert_eq!(launch.port_override(), None);
        assert_eq!(launch.config_override(), None);
        assert_eq!(launch.startup.key, KeyChoice::Keychain);
        assert_eq!(
            launch.autostart_dir,
            cfg!(target_os = "linux").then(|| PathBuf::from("/home/u/.config/autostart"))
        );
    }

    #[test]
    fn arguments_beat_the_environment() {
        let env = [(CONFIG_ENV, "/env/c.json"), (PORT_ENV, "4000")];
        let launch = parse(&[], &env).unwrap();
        assert_eq!(launch.config_override(), Some(PathBuf::from("/env/c.json")));
        assert_eq!(launch.port_override(), Some((4000, PORT_ENV)));
        let launch = parse(&["--config", "/arg/c.json", "--port=5000"], &env).unwrap();
        assert_eq!(launch.config_override(), Some(PathBuf::from("/arg/c.json")));
        assert_eq!(launch.port_override(), Some((5000, "--port")));
    }

    #[test]
    fn it_shares_the_key_options_of_serve() {
        let launch = parse(&["--insecure-no-auth"], &[]).unwrap();
        assert_eq!(launch.startup.key, KeyChoice::Off);
        let launch = parse(&["--api-key", "sbk_desktop-flag-key-0123"], &[]).unwrap();
        assert!(matches!(
            launch.startup.key,
            KeyChoice::Given {
                source: "--api-key",
                ..
            }
        ));
    }

    #[test]
    fn bad_input_is_an_error() {
        let usage = |result: Result<Launch, LaunchError>| matches!(result, Err(LaunchError::Usage(e)) if e.exit_code() == 2);
        assert!(usage(parse(&["--port"], &[])));
        assert!(usage(parse(&["--port", "65536"], &[])));
        assert!(usage(parse(&["--bogus"], &[])));
        assert!(usage(parse(&["--api-key", "k", "--insecure-no-auth"], &[])));
        assert!(matches!(
            parse(&[], &[(PORT_ENV, "http")]),
            Err(LaunchError::Startup(
                switchboard_core::Error::BadPort { .. }
            ))
        ));
        assert!(matches!(
            parse(&[], &[("SWITCHBOARD_API_KEY", "short")]),
            Err(LaunchError::Startup(
                switchboard_core::Error::BadApiKey { .. }
            ))
        ));
    }

    #[test]
    fn help_is_not_an_error() {
        match parse(&["--help"], &[]) {
            Err(LaunchError::Usage(e)) => {
                assert_eq!(e.exit_code(), 0);
                let help = e.to_string();
                assert!(help.contains("--insecure-no-auth"), "{help}");
                assert!(help.contains("SWITCHBOARD_PORT"), "{help}");
            }
            other => panic!("{other:?}"),
        }
    }
}
