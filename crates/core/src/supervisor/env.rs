//! The environment a child starts with: an allowlist of Switchboard's own variables, then
//! the server's `env` from the config. The PATH in it can be one the caller found (the
//! desktop app passes its user's login-shell PATH), since an app started from the Dock or a
//! desktop menu has only the system's short default.

use std::ffi::{OsStr, OsString};

/// Environment variables a child inherits from Switchboard. Everything else is left out, so
/// Switchboard's own secrets (its API key, for one) never reach a child by accident; the
/// server's `env` in the config is merged over this base.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "TERM",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "PYENV_ROOT",
    // Windows needs these to start almost anything.
    "SYSTEMROOT",
    "SystemRoot",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "PROGRAMDATA",
    "PROGRAMFILES",
    "HOMEDRIVE",
    "HOMEPATH",
];

/// The child's environment, in the order it is applied (a later entry wins):
/// the allowlisted variables that `var` knows (with `path`, when given, as PATH), the
/// locale's `LC_*` variables among `all`, then the server's own `env`.
pub(crate) fn child_env(
    var: impl Fn(&str) -> Option<OsString>,
    all: impl IntoIterator<Item = (OsString, OsString)>,
    path: Option<&OsStr>,
    own: &[(String, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = INHERITED_ENV
        .iter()
        .filter_map(|&name| {
            let value = match path {
                Some(path) if name == "PATH" => Some(path.to_owned()),
                _ => var(name),
            };
            value.map(|value| (OsString::from(name), value))
        })
        .collect();
    env.extend(
        all.into_iter()
            .filter(|(name, _)| name.to_string_lossy().starts_with("LC_")),
    );
    env.extend(
        own.iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value))),
    );
    env
}

/// The value `name` has in `env` as built by [`child_env`] (the last entry wins). Names are
/// compared without regard to ASCII case, as Windows does; this is only used there.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn value_of<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(key, _)| key.to_string_lossy().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(name: &str) -> Option<OsString> {
        match name {
            "PATH" => Some("/usr/bin:/bin".into()),
            "HOME" => Some("/home/ada".into()),
            _ => None,
        }
    }

    fn all() -> Vec<(OsString, OsString)> {
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/home/ada"),
            ("LC_ALL", "C.UTF-8"),
            ("SWITCHBOARD_API_KEY", "sbk_secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
    }

    fn as_strings(env: &[(OsString, OsString)]) -> Vec<(String, String)> {
        env.iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn only_allowlisted_and_locale_variables_are_inherited() {
        let env = child_env(parent, all(), None, &[]);
        assert_eq!(
            as_strings(&env),
            [
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("HOME".into(), "/home/ada".into()),
                ("LC_ALL".into(), "C.UTF-8".into()),
            ]
        );
    }

    #[test]
    fn a_given_path_replaces_the_inherited_one_and_the_servers_env_wins() {
        let env = child_env(
            parent,
            all(),
            Some(OsStr::new("/opt/homebrew/bin:/usr/bin")),
            &[("TOKEN".into(), "t".into())],
        );
        assert_eq!(
            value_of(&env, "PATH"),
            Some(OsStr::new("/opt/homebrew/bin:/usr/bin"))
        );
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert_eq!(value_of(&env, "TOKEN"), Some(OsStr::new("t")));

        let own_path = [("Path".to_owned(), "C:\\mine".to_owned())];
        let env = child_env(parent, all(), Some(OsStr::new("/x")), &own_path);
        assert_eq!(value_of(&env, "PATH"), Some(OsStr::new("C:\\mine")));
    }

    #[test]
    fn a_path_is_given_even_when_this_process_has_none() {
        let env = child_env(|_| None, Vec::new(), Some(OsStr::new("/only")), &[]);
        assert_eq!(as_strings(&env), [("PATH".into(), "/only".into())]);
    }
}
