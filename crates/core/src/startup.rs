//! The startup rule: how `switchboard serve` and the desktop app turn their command line and
//! environment into a config file, a port and an API key decision. Both binaries call this
//! module, so a flag or variable means the same in each.
//!
//! - **Config file**: `--config`, else [`CONFIG_ENV`], else the default path the caller
//!   passes in (core never looks up OS directories). A missing file is created with the
//!   first-run config: the built-in demo server, run as `<program> demo-server`.
//! - **Port**: `--port`, else [`PORT_ENV`], else `switchboard.port` in the config, else
//!   [`DEFAULT_PORT`]. Port 0 (flag or variable only) picks a free port, for tests.
//! - **API key**: `--insecure-no-auth` turns checks off; else a key from `--api-key`, else
//!   from [`API_KEY_ENV`], is used after [`check_api_key`]; else the key in the OS keychain
//!   (created there on first run). The config's `"requireApiKey": false` wins over an
//!   explicit key: a key says *which* key, not *whether* to check one. The key is still
//!   kept then, so checks can be switched on again while running.
//!
//! An empty variable counts as unset. The environment is passed in as a [`LaunchEnv`], so the
//! rules are tested without touching the process environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, DEFAULT_PORT};
use crate::error::{Error, Result};
use crate::relay::RelayOptions;
use crate::secrets::{SecretError, SecretStore, Sensitive};
use crate::{Auth, HubOptions};

/// Overrides the default config file.
pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";
/// Overrides the config's port.
pub const PORT_ENV: &str = "SWITCHBOARD_PORT";
/// An API key to use instead of the keychain's (headless machines, test runs).
pub const API_KEY_ENV: &str = "SWITCHBOARD_API_KEY";
/// The shortest explicit API key accepted.
pub const MIN_API_KEY_LEN: usize = 16;

/// The launch options `switchboard serve` and `switchboard-desktop` share.
///
/// Defined here, next to the rules that interpret them, so their names and help text exist
/// once. clap is acceptable in core: it is no GUI crate (invariant 1), both binaries link it
/// anyway, and the type is plain data, so core stays usable without parsing anything
/// ([`LaunchArgs::default`]). The variables are deliberately not read by clap: [`LaunchEnv`]
/// reads them, which keeps the environment injectable and tells a flag from a variable (the
/// window says which one set the port).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LaunchArgs {
    /// The config file (else SWITCHBOARD_CONFIG, else the OS config directory's
    /// switchboard/config.json; created with a demo server if missing).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The port to listen on (else SWITCHBOARD_PORT, else the config's, else 17345; 0 picks a
    /// free one).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Use this API key instead of the one in the OS keychain (for headless machines; at
    /// least 16 visible ASCII characters). Prefer SWITCHBOARD_API_KEY: a command line is
    /// visible to other local users.
    #[arg(long, value_name = "KEY", value_parser = sensitive)]
    pub api_key: Option<Sensitive<String>>,
    /// Turn API key checks off. Any program on this machine could then use every server.
    #[arg(long, conflicts_with = "api_key")]
    pub insecure_no_auth: bool,
}

fn sensitive(text: &str) -> std::result::Result<Sensitive<String>, std::convert::Infallible> {
    Ok(Sensitive::new(text.to_owned()))
}

/// The variables the startup rule reads; empty values count as unset.
#[derive(Debug, Clone, Default)]
pub struct LaunchEnv {
    /// [`CONFIG_ENV`]
    pub config: Option<OsString>,
    /// [`PORT_ENV`]
    pub port: Option<OsString>,
    /// [`API_KEY_ENV`]
    pub api_key: Option<Sensitive<OsString>>,
}

impl LaunchEnv {
    /// This process's variables.
    pub fn from_process() -> LaunchEnv {
        LaunchEnv::from_lookup(|name| std::env::var_os(name))
    }

    /// The variables as `lookup` finds them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> LaunchEnv {
        let get = |name| lookup(name).filter(|value| !value.is_empty());
        LaunchEnv {
            config: get(CONFIG_ENV),
            port: get(PORT_ENV),
            api_key: get(API_KEY_ENV).map(Sensitive::new),
        }
    }
}

/// Where the config path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Flag,
    Env,
    /// The caller's default (the OS config directory's `switchboard/config.json`).
    Default,
}

/// Where a port given at launch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSource {
    Flag,
    Env,
}

impl PortSource {
    /// How the user wrote it: `--port` or `SWITCHBOARD_PORT`.
    pub fn name(self) -> &'static str {
        match self {
            PortSource::Flag => "--port",
            PortSource::Env => PORT_ENV,
        }
    }
}

/// A port given at launch. It is used instead of the config's for this launch only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortOverride {
    pub port: u16,
    pub source: PortSource,
}

/// Which API key the proxy is started with.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyChoice {
    /// The key in the OS keychain, created there on first run.
    Keychain,
    /// A key given explicitly, already checked by [`check_api_key`].
    Given {
        key: Sensitive<String>,
        /// `--api-key` or `SWITCHBOARD_API_KEY`.
        source: &'static str,
    },
    /// `--insecure-no-auth`: no key, no checks.
    Off,
}

/// What the command line and environment ask for, checked; no file read yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Startup {
    pub config_path: PathBuf,
    pub config_source: ConfigSource,
    /// `None`: the config's port, else [`DEFAULT_PORT`].
    pub port: Option<PortOverride>,
    pub key: KeyChoice,
}

/// The auth mode [`Startup::authorize`] settled on.
pub struct Authorized {
    pub auth: Auth,
    /// The keychain for secret references, when one is reachable.
    pub secrets: Option<Arc<dyn SecretStore>>,
    /// What the user must be told: checks off and why, a key that is not checked. One
    /// sentence each; the CLI prints them, the desktop logs them.
    pub warnings: Vec<String>,
}

impl Startup {
    /// Applies the precedence rules. `default_config` is the caller's default config file,
    /// `None` when the system has no config directory (then a path must be given).
    pub fn resolve(
        args: LaunchArgs,
        env: &LaunchEnv,
        default_config: Option<PathBuf>,
    ) -> Result<Startup> {
        let (config_path, config_source) = config_path(args.config, env, default_config)?;
        Ok(Startup {
            config_path,
            config_source,
            port: port_override(args.port, env)?,
            key: key_choice(args.api_key, args.insecure_no_auth, env)?,
        })
    }

    /// Loads the config file, or on first run writes one with the built-in demo server, run
    /// as `program demo-server` (the executable that is starting). `true`: it was written.
    pub fn load_config(&self, program: &Path) -> Result<(Config, bool)> {
        Config::load_or_create(&self.config_path, || Config::first_run(program))
    }

    /// The port to listen on: the one given at launch, else the config's, else the default.
    pub fn port(&self, config: &Config) -> u16 {
        match self.port {
            Some(given) => given.port,
            None => config.proxy.port.unwrap_or(DEFAULT_PORT),
        }
    }

    /// Decides how callers are checked. `keychain` is the OS keychain as the caller opened
    /// it (the desktop bounds the wait for an unlock prompt; tests pass a memory store).
    ///
    /// Without an explicit key the keychain must work, unless the config turned checks off:
    /// a missing keychain never means "no key". With a key given, or checks off, a missing
    /// keychain only means that servers referencing secrets cannot start (they say so).
    /// May block: reading and creating the key talks to the keychain.
    pub fn authorize(
        &self,
        config: &Config,
        keychain: std::result::Result<Arc<dyn SecretStore>, SecretError>,
    ) -> Result<Authorized> {
        let required = config.proxy.require_api_key;
        let mut warnings = Vec::new();
        let config_off = || {
            format!(
                "API key checks are off (\"requireApiKey\": false in {}). Any program on this machine can use every server.",
                self.config_path.display()
            )
        };
        let secrets_only = |keychain: std::result::Result<Arc<dyn SecretStore>, SecretError>| {
            keychain
                .inspect_err(|e| log::warn!("{e}; servers that reference secrets cannot start"))
                .ok()
        };
        let (auth, secrets) = match &self.key {
            KeyChoice::Off => {
                warnings.push(
                    "API key checks are off (--insecure-no-auth). Any program on this machine can use every server."
                        .to_owned(),
                );
                (Auth::Disabled, secrets_only(keychain))
            }
            KeyChoice::Given { key, source } => {
                if !required {
                    warnings.push(config_off());
                    warnings.push(format!(
                        "The key from {source} is not checked either; set \"requireApiKey\" to true to check it."
                    ));
                }
                (Auth::fixed(key.clone()), secrets_only(keychain))
            }
            KeyChoice::Keychain => {
                let loaded =
                    keychain.and_then(|store| Ok((Auth::from_keychain(store.clone())?, store)));
                match loaded {
                    Ok((auth, store)) => {
                        if !required {
                            warnings.push(config_off());
                        }
                        (auth, Some(store))
                    }
                    // Checks are off by the user's choice: run without a key rather than
                    // not at all (checks cannot be switched on again until a restart).
                    Err(e) if !required => {
                        warnings.push(config_off());
                        warnings.push(format!(
                            "Running without an API key, as the config asks: {e}"
                        ));
                        (Auth::Disabled, None)
                    }
                    Err(e) => return Err(Error::Keychain(e)),
                }
            }
        };
        Ok(Authorized {
            auth,
            secrets,
            warnings,
        })
    }

    /// Everything [`crate::Hub::launch`] needs besides the config.
    pub fn hub_options(
        &self,
        config: &Config,
        auth: Auth,
        secrets: Option<Arc<dyn SecretStore>>,
    ) -> HubOptions {
        HubOptions {
            port: self.port(config),
            relay: RelayOptions {
                idle_timeout: config.proxy.idle_timeout(),
                limits: config.proxy.limits,
                spare_idle: config.proxy.spare_idle(),
                ..RelayOptions::default()
            },
            auth,
            extra_origins: config.proxy.allowed_origins.clone(),
            secrets,
            config_path: Some(self.config_path.clone()),
        }
    }
}

/// The config file: `flag`, else [`CONFIG_ENV`], else `default` (`None`: the system has no
/// config directory, so one of the others is needed).
pub fn config_path(
    flag: Option<PathBuf>,
    env: &LaunchEnv,
    default: Option<PathBuf>,
) -> Result<(PathBuf, ConfigSource)> {
    if let Some(path) = flag {
        return Ok((path, ConfigSource::Flag));
    }
    if let Some(path) = &env.config {
        return Ok((PathBuf::from(path), ConfigSource::Env));
    }
    default
        .map(|path| (path, ConfigSource::Default))
        .ok_or(Error::NoConfigPath)
}

/// The config file inside the OS config directory `dir`.
pub fn default_config_in(dir: &Path) -> PathBuf {
    dir.join("switchboard").join("config.json")
}

/// A port given at launch: `flag`, else [`PORT_ENV`].
pub fn port_override(flag: Option<u16>, env: &LaunchEnv) -> Result<Option<PortOverride>> {
    if let Some(port) = flag {
        return Ok(Some(PortOverride {
            port,
            source: PortSource::Flag,
        }));
    }
    let Some(value) = &env.port else {
        return Ok(None);
    };
    let port = value
        .to_str()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .ok_or_else(|| Error::BadPort {
            source_name: PORT_ENV,
            value: value.to_string_lossy().into_owned(),
        })?;
    Ok(Some(PortOverride {
        port,
        source: PortSource::Env,
    }))
}

fn key_choice(
    flag: Option<Sensitive<String>>,
    insecure_no_auth: bool,
    env: &LaunchEnv,
) -> Result<KeyChoice> {
    if insecure_no_auth {
        // A key in the environment is often there for `switchboard connect`; the explicit
        // flag decides. (clap refuses `--api-key` with `--insecure-no-auth`.)
        return Ok(KeyChoice::Off);
    }
    let (key, source) = match (flag, &env.api_key) {
        (Some(key), _) => (key, "--api-key"),
        (None, Some(value)) => {
            let text = value.expose().to_str().ok_or(Error::BadApiKey {
                source_name: API_KEY_ENV,
                problem: ApiKeyProblem::NotVisibleAscii,
            })?;
            (Sensitive::new(text.to_owned()), API_KEY_ENV)
        }
        (None, None) => return Ok(KeyChoice::Keychain),
    };
    check_api_key(key.expose()).map_err(|problem| Error::BadApiKey {
        source_name: source,
        problem,
    })?;
    Ok(KeyChoice::Given { key, source })
}

/// What is wrong with an explicit API key (never the key itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyProblem {
    TooShort,
    NotVisibleAscii,
}

impl std::fmt::Display for ApiKeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiKeyProblem::TooShort => write!(
                f,
                "the API key must be at least {MIN_API_KEY_LEN} characters"
            ),
            ApiKeyProblem::NotVisibleAscii => f.write_str(
                "the API key may contain only visible ASCII characters (no spaces), as clients send it in an HTTP header",
            ),
        }
    }
}

/// An explicit key must be at least [`MIN_API_KEY_LEN`] characters of visible ASCII (no
/// spaces or control characters): clients send it as `Authorization: Bearer <key>`, where
/// anything else is trimmed, split or refused. Generated keys (`sbk_` + base64url) pass.
pub fn check_api_key(key: &str) -> std::result::Result<(), ApiKeyProblem> {
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiKeyProblem::NotVisibleAscii);
    }
    if key.len() < MIN_API_KEY_LEN {
        return Err(ApiKeyProblem::TooShort);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;
    use clap::Parser;

    const KEY: &str = "sbk_startup-test-key-0123456789";

    /// `argv` as a binary that flattens [`LaunchArgs`] would parse it.
    #[derive(Parser)]
    struct Argv {
        #[command(flatten)]
        launch: LaunchArgs,
    }

    fn args(argv: &[&str]) -> LaunchArgs {
        Argv::try_parse_from(std::iter::once("test").chain(argv.iter().copied()))
            .unwrap()
            .launch
    }

    fn env(vars: &[(&str, &str)]) -> LaunchEnv {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        LaunchEnv::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    fn default_config() -> Option<PathBuf> {
        Some(default_config_in(Path::new("/home/u/.config")))
    }

    fn resolve(argv: &[&str], vars: &[(&str, &str)]) -> Result<Startup> {
        Startup::resolve(args(argv), &env(vars), default_config())
    }

    fn config_with_port(port: Option<u16>) -> Config {
        let mut config = Config::default();
        config.proxy.port = port;
        config
    }

    fn memory() -> std::result::Result<Arc<dyn SecretStore>, SecretError> {
        Ok(Arc::new(MemoryStore::default()))
    }

    fn no_keychain() -> std::result::Result<Arc<dyn SecretStore>, SecretError> {
        Err(SecretError::Unavailable {
            cause: "no D-Bus".into(),
            fix: "start one".into(),
        })
    }

    fn checks_off() -> Config {
        let mut config = Config::default();
        config.proxy.require_api_key = false;
        config
    }

    /// The key the proxy would require, `None` when there is none.
    fn key_of(auth: &Auth) -> Option<String> {
        match auth {
            Auth::Key { key, .. } => Some(key.expose().clone()),
            Auth::Disabled => None,
        }
    }

    #[test]
    fn the_config_path_is_the_flag_then_the_variable_then_the_default() {
        let plain = resolve(&[], &[]).unwrap();
        assert_eq!(
            (plain.config_path, plain.config_source),
            (
                PathBuf::from("/home/u/.config/switchboard/config.json"),
                ConfigSource::Default
            )
        );
        let from_env = resolve(&[], &[(CONFIG_ENV, "/env/c.json")]).unwrap();
        assert_eq!(
            (from_env.config_path, from_env.config_source),
            (PathBuf::from("/env/c.json"), ConfigSource::Env)
        );
        let from_flag =
            resolve(&["--config", "/arg/c.json"], &[(CONFIG_ENV, "/env/c.json")]).unwrap();
        assert_eq!(
            (from_flag.config_path, from_flag.config_source),
            (PathBuf::from("/arg/c.json"), ConfigSource::Flag)
        );
    }

    #[test]
    fn without_a_config_directory_a_path_must_be_given() {
        let err = Startup::resolve(args(&[]), &env(&[]), None).unwrap_err();
        assert!(matches!(err, Error::NoConfigPath), "{err:?}");
        assert!(err.to_string().contains(CONFIG_ENV), "{err}");
        let given = Startup::resolve(args(&[]), &env(&[(CONFIG_ENV, "/c.json")]), None).unwrap();
        assert_eq!(given.config_path, PathBuf::from("/c.json"));
    }

    #[test]
    fn the_port_is_the_flag_then_the_variable_then_the_config_then_the_default() {
        let config = config_with_port(Some(3000));
        let plain = resolve(&[], &[]).unwrap();
        assert_eq!(plain.port, None);
        assert_eq!(plain.port(&config), 3000);
        assert_eq!(plain.port(&Config::default()), DEFAULT_PORT);

        let from_env = resolve(&[], &[(PORT_ENV, " 4000 ")]).unwrap();
        assert_eq!(
            from_env.port,
            Some(PortOverride {
                port: 4000,
                source: PortSource::Env
            })
        );
        assert_eq!(from_env.port(&config), 4000);

        let from_flag = resolve(&["--port=5000"], &[(PORT_ENV, "4000")]).unwrap();
        assert_eq!(
            from_flag.port,
            Some(PortOverride {
                port: 5000,
                source: PortSource::Flag
            })
        );
        assert_eq!(from_flag.port(&config), 5000);
        assert_eq!(
            from_flag.hub_options(&config, Auth::Disabled, None).port,
            5000
        );
        assert_eq!(
            (PortSource::Flag.name(), PortSource::Env.name()),
            ("--port", PORT_ENV)
        );
    }

    #[test]
    fn a_bad_port_is_an_error_that_names_where_it_came_from() {
        for bad in ["http", "65536", "-1", "80 80"] {
            let err = resolve(&[], &[(PORT_ENV, bad)]).unwrap_err();
            assert!(
                matches!(&err, Error::BadPort { source_name: PORT_ENV, value } if value == bad),
                "{bad}: {err:?}"
            );
        }
        // The flag wins before the variable is read: a bad variable does not matter then.
        assert!(resolve(&["--port", "7000"], &[(PORT_ENV, "http")]).is_ok());
        for bad in [&["--port", "65536"][..], &["--port"], &["--port", "x"]] {
            assert!(
                Argv::try_parse_from(std::iter::once("test").chain(bad.iter().copied())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let startup = resolve(&[], &[(CONFIG_ENV, ""), (PORT_ENV, ""), (API_KEY_ENV, "")]).unwrap();
        assert_eq!(startup.config_source, ConfigSource::Default);
        assert_eq!(startup.port, None);
        assert_eq!(startup.key, KeyChoice::Keychain);
    }

    #[test]
    fn the_key_is_the_flag_then_the_variable_then_the_keychain() {
        assert_eq!(resolve(&[], &[]).unwrap().key, KeyChoice::Keychain);
        let from_env = resolve(&[], &[(API_KEY_ENV, KEY)]).unwrap();
        assert_eq!(
            from_env.key,
            KeyChoice::Given {
                key: Sensitive::new(KEY.into()),
                source: API_KEY_ENV
            }
        );
        let other = "sbk_from-the-command-line-0123";
        let from_flag = resolve(&["--api-key", other], &[(API_KEY_ENV, KEY)]).unwrap();
        assert_eq!(
            from_flag.key,
            KeyChoice::Given {
                key: Sensitive::new(other.into()),
                source: "--api-key"
            }
        );
    }

    #[test]
    fn insecure_no_auth_wins_over_a_key_in_the_environment_but_not_beside_a_flag() {
        let startup = resolve(&["--insecure-no-auth"], &[(API_KEY_ENV, KEY)]).unwrap();
        assert_eq!(startup.key, KeyChoice::Off);
        let both = ["test", "--insecure-no-auth", "--api-key", KEY];
        assert!(Argv::try_parse_from(both).is_err());
    }

    #[test]
    fn explicit_keys_are_checked_and_never_echoed() {
        assert_eq!(check_api_key(KEY), Ok(()));
        assert_eq!(check_api_key(&"k".repeat(MIN_API_KEY_LEN)), Ok(()));
        assert_eq!(
            check_api_key(&"k".repeat(MIN_API_KEY_LEN - 1)),
            Err(ApiKeyProblem::TooShort)
        );
        assert_eq!(check_api_key(""), Err(ApiKeyProblem::TooShort));
        for bad in [
            "sbk_has a space in it 0123",
            "sbk_has-a-tab\t-in-it-0123",
            "sbk_has-a-newline\n-0123456",
            "sbk_ünïcödé-key-0123456789",
        ] {
            assert_eq!(
                check_api_key(bad),
                Err(ApiKeyProblem::NotVisibleAscii),
                "{bad:?}"
            );
        }
        assert!(check_api_key(crate::api_key::generate().expose()).is_ok());

        let short = "sbk_short";
        let err = resolve(&[], &[(API_KEY_ENV, short)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadApiKey {
                    source_name: API_KEY_ENV,
                    problem: ApiKeyProblem::TooShort
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("at least 16 characters"), "{text}");
        assert!(!text.contains(short), "{text}");
        let spaced = "a key with spaces in it";
        let err = resolve(&["--api-key", spaced], &[]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadApiKey {
                    source_name: "--api-key",
                    problem: ApiKeyProblem::NotVisibleAscii
                }
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains(spaced));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_variable_that_is_not_unicode_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let env = LaunchEnv {
            api_key: Some(Sensitive::new(OsString::from_vec(
                b"sbk_\xff-0123456789abcdef".to_vec(),
            ))),
            ..LaunchEnv::default()
        };
        let err = Startup::resolve(args(&[]), &env, default_config()).unwrap_err();
        assert!(matches!(err, Error::BadApiKey { .. }), "{err:?}");
    }

    #[test]
    fn the_keychain_key_is_created_on_first_run_and_reused() {
        let startup = resolve(&[], &[]).unwrap();
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
        let first = startup
            .authorize(&Config::default(), Ok(store.clone()))
            .unwrap();
        let key = key_of(&first.auth).unwrap();
        assert!(key.starts_with(crate::api_key::KEY_PREFIX));
        assert!(first.secrets.is_some());
        assert!(first.warnings.is_empty(), "{:?}", first.warnings);
        let again = startup.authorize(&Config::default(), Ok(store)).unwrap();
        assert_eq!(key_of(&again.auth), Some(key));
    }

    #[test]
    fn without_a_keychain_or_a_key_the_launch_fails_closed() {
        let startup = resolve(&[], &[]).unwrap();
        let err = startup
            .authorize(&Config::default(), no_keychain())
            .err()
            .unwrap();
        assert!(matches!(err, Error::Keychain(_)), "{err:?}");
        assert!(err.to_string().contains("keychain is unavailable"), "{err}");
    }

    #[test]
    fn an_explicit_key_needs_no_keychain() {
        let startup = resolve(&[], &[(API_KEY_ENV, KEY)]).unwrap();
        let authorized = startup
            .authorize(&Config::default(), no_keychain())
            .unwrap();
        assert_eq!(key_of(&authorized.auth).as_deref(), Some(KEY));
        assert!(authorized.secrets.is_none());
        assert!(authorized.warnings.is_empty());
        // With a keychain, it still serves secret references; the key stays the given one.
        let authorized = startup.authorize(&Config::default(), memory()).unwrap();
        assert_eq!(key_of(&authorized.auth).as_deref(), Some(KEY));
        assert!(authorized.secrets.is_some());
    }

    #[test]
    fn the_config_turning_checks_off_wins_over_an_explicit_key_which_is_kept() {
        let startup = resolve(&[], &[(API_KEY_ENV, KEY)]).unwrap();
        let authorized = startup.authorize(&checks_off(), no_keychain()).unwrap();
        // Kept, so checks can be switched on while running; whether it is checked is the
        // config's `requireApiKey`, which the Hub reads.
        assert_eq!(key_of(&authorized.auth).as_deref(), Some(KEY));
        let warnings = authorized.warnings.join("\n");
        assert!(
            warnings
                .contains("\"requireApiKey\": false in /home/u/.config/switchboard/config.json"),
            "{warnings}"
        );
        assert!(
            warnings.contains(&format!("The key from {API_KEY_ENV} is not checked either")),
            "{warnings}"
        );
        assert!(!warnings.contains(KEY));
    }

    #[test]
    fn with_checks_off_in_the_config_a_missing_keychain_is_not_fatal() {
        let startup = resolve(&[], &[]).unwrap();
        let authorized = startup.authorize(&checks_off(), no_keychain()).unwrap();
        assert!(matches!(authorized.auth, Auth::Disabled));
        assert!(authorized.secrets.is_none());
        assert!(
            authorized
                .warnings
                .join("\n")
                .contains("keychain is unavailable")
        );
        // With one, the key is loaded (and created) so checks can be switched on later.
        let authorized = startup.authorize(&checks_off(), memory()).unwrap();
        assert!(key_of(&authorized.auth).is_some());
        assert_eq!(authorized.warnings.len(), 1, "{:?}", authorized.warnings);
    }

    #[test]
    fn insecure_no_auth_has_no_key_but_keeps_the_keychain_for_secrets() {
        let startup = resolve(&["--insecure-no-auth"], &[]).unwrap();
        let authorized = startup.authorize(&Config::default(), memory()).unwrap();
        assert!(matches!(authorized.auth, Auth::Disabled));
        assert!(authorized.secrets.is_some());
        assert!(authorized.warnings[0].contains("--insecure-no-auth"));
        let authorized = startup
            .authorize(&Config::default(), no_keychain())
            .unwrap();
        assert!(matches!(authorized.auth, Auth::Disabled));
        assert!(authorized.secrets.is_none());
    }

    #[test]
    fn the_first_run_config_runs_the_demo_server_and_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.json");
        let startup = Startup::resolve(
            LaunchArgs {
                config: Some(path.clone()),
                ..LaunchArgs::default()
            },
            &LaunchEnv::default(),
            None,
        )
        .unwrap();
        let program = Path::new("/opt/switchboard/switchboard");
        let (config, created) = startup.load_config(program).unwrap();
        assert!(created);
        assert_eq!(config, Config::first_run(program));
        assert_eq!(Config::load(&path).unwrap(), config);
        let demo = serde_json::to_value(&config).unwrap()["mcpServers"]["demo"].clone();
        assert_eq!(demo["command"], "/opt/switchboard/switchboard");
        assert_eq!(demo["args"], serde_json::json!(["demo-server"]));

        std::fs::write(
            &path,
            r#"{"mcpServers": {}, "switchboard": {"port": 4100}}"#,
        )
        .unwrap();
        let (config, created) = startup.load_config(program).unwrap();
        assert!(!created);
        assert!(config.servers.is_empty());
        assert_eq!(startup.port(&config), 4100);
    }
}
