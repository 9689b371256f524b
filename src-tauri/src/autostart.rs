//! "Start at login", on each OS its own way:
//!
//! - Linux: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/switchboard.desktop`, written
//!   here. `tauri-plugin-autostart` writes one too, but always under `$HOME/.config` (it
//!   ignores `XDG_CONFIG_HOME`, which the XDG spec and our hermetic tests rely on) and with an
//!   unquoted `Exec=` that breaks on a path with a space; so Linux keeps this writer.
//! - macOS (a Launch Agent in `~/Library/LaunchAgents`) and Windows (the `Run` registry key):
//!   `tauri-plugin-autostart`, registered in `run` and [attached](Autostart::attach) at setup.
//!   The tray drives it from Rust; the webview gets none of the plugin's commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The entry's file name in the autostart folder.
pub const ENTRY_FILE: &str = "switchboard.desktop";

/// The name macOS and Windows list the login item under.
pub const APP_NAME: &str = "Switchboard";

const UNSUPPORTED: &str = "start at login is not available on this system";

/// "Start at login" for this app: the XDG entry where there is a folder for it, else the OS's
/// own mechanism once [attached](Autostart::attach), else unsupported.
pub struct Autostart {
    xdg: Option<XdgEntry>,
    system: OnceLock<Box<dyn SystemAutostart>>,
}

/// The OS's own login items, reached through the app (the plugin keeps its state there).
trait SystemAutostart: Send + Sync {
    /// `None` when the plugin is not registered (tests on the mock runtime).
    fn is_enabled(&self) -> Option<Result<bool, String>>;
    fn set(&self, enabled: bool) -> Result<(), String>;
}

impl Autostart {
    pub fn new(dir: Option<PathBuf>, program: PathBuf) -> Autostart {
        Autostart {
            xdg: dir.map(|dir| XdgEntry::new(dir, program)),
            system: OnceLock::new(),
        }
    }

    /// Uses `tauri-plugin-autostart` (macOS, Windows) when there is no XDG folder and the
    /// plugin is registered; elsewhere nothing changes.
    pub fn attach<R: tauri::Runtime>(&self, app: &tauri::AppHandle<R>) {
        #[cfg(any(target_os = "macos", windows))]
        if self.xdg.is_none() {
            let _ = self.system.set(Box::new(Plugin(app.clone())));
        }
        #[cfg(not(any(target_os = "macos", windows)))]
        let _ = app;
    }

    pub fn is_supported(&self) -> bool {
        self.xdg.is_some() || self.system().and_then(|s| s.is_enabled()).is_some()
    }

    pub fn is_enabled(&self) -> bool {
        match (&self.xdg, self.system()) {
            (Some(xdg), _) => xdg.is_enabled(),
            (None, Some(system)) => match system.is_enabled() {
                Some(Ok(enabled)) => enabled,
                Some(Err(e)) => {
                    log::warn!("cannot tell whether Switchboard starts at login: {e}");
                    false
                }
                None => false,
            },
            (None, None) => false,
        }
    }

    /// Turns it on or off. Turning off what is off is not an error.
    pub fn set(&self, enabled: bool) -> Result<(), String> {
        match (&self.xdg, self.system()) {
            (Some(xdg), _) => xdg.set(enabled),
            (None, Some(system)) if self.is_supported() => system.set(enabled),
            _ => Err(UNSUPPORTED.to_owned()),
        }
    }

    fn system(&self) -> Option<&dyn SystemAutostart> {
        self.system.get().map(|s| s.as_ref())
    }
}

#[cfg(any(target_os = "macos", windows))]
struct Plugin<R: tauri::Runtime>(tauri::AppHandle<R>);

#[cfg(any(target_os = "macos", windows))]
impl<R: tauri::Runtime> SystemAutostart for Plugin<R> {
    fn is_enabled(&self) -> Option<Result<bool, String>> {
        use tauri::Manager;
        let manager = self
            .0
            .try_state::<tauri_plugin_autostart::AutoLaunchManager>()?;
        Some(manager.is_enabled().map_err(|e| e.to_string()))
    }

    fn set(&self, enabled: bool) -> Result<(), String> {
        use tauri::Manager;
        let manager = self
            .0
            .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
            .ok_or_else(|| UNSUPPORTED.to_owned())?;
        let result = if enabled {
            manager.enable()
        } else if manager.is_enabled().map_err(|e| e.to_string())? {
            // Only when on: on Windows, deleting a missing Run value is an error.
            manager.disable()
        } else {
            Ok(())
        };
        result.map_err(|e| e.to_string())
    }
}

/// The XDG autostart entry in `dir`, starting `program`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdgEntry {
    dir: PathBuf,
    program: PathBuf,
}

impl XdgEntry {
    pub fn new(dir: PathBuf, program: PathBuf) -> XdgEntry {
        XdgEntry { dir, program }
    }

    /// Whether the entry exists (and is not disabled with `Hidden=true`).
    pub fn is_enabled(&self) -> bool {
        std::fs::read_to_string(self.entry())
            .is_ok_and(|text| !text.lines().any(|l| l.trim() == "Hidden=true"))
    }

    /// Writes (atomically) or removes the entry. Removing a missing entry is not an error.
    pub fn set(&self, enabled: bool) -> Result<(), String> {
        let path = self.entry();
        if enabled {
            write_atomically(&path, &desktop_entry(&self.program))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
            }
        }
    }

    fn entry(&self) -> PathBuf {
        self.dir.join(ENTRY_FILE)
    }
}

/// The desktop entry; `Exec` quotes the path as the Desktop Entry spec asks.
pub fn desktop_entry(program: &Path) -> String {
    let quoted = program
        .to_string_lossy()
        .replace('\\', "\\\\\\\\")
        .replace('"', "\\\"")
        .replace('`', "\\`")
        .replace('$', "\\$");
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Switchboard\n\
         Comment=Your MCP servers behind one local proxy\n\
         Exec=\"{quoted}\"\n\
         Terminal=false\n\
         X-GNOME-Autostart-enabled=true\n"
    )
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{ENTRY_FILE}.tmp"));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_removes_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = Autostart::new(
            Some(dir.path().join("autostart")),
            "/opt/my apps/switchboard-desktop".into(),
        );
        assert!(autostart.is_supported());
        assert!(!autostart.is_enabled());
        autostart.set(true).unwrap();
        assert!(autostart.is_enabled());
        let text = std::fs::read_to_string(dir.path().join("autostart").join(ENTRY_FILE)).unwrap();
        assert!(
            text.contains("Exec=\"/opt/my apps/switchboard-desktop\"\n"),
            "{text}"
        );
        autostart.set(false).unwrap();
        assert!(!autostart.is_enabled());
        autostart.set(false).unwrap();
    }

    #[test]
    fn a_hidden_entry_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let entry = XdgEntry::new(dir.path().into(), "/x".into());
        std::fs::write(
            dir.path().join(ENTRY_FILE),
            "[Desktop Entry]\nHidden=true\n",
        )
        .unwrap();
        assert!(!entry.is_enabled());
    }

    #[test]
    fn unsupported_without_a_folder_or_the_plugin() {
        let autostart = Autostart::new(None, "/x".into());
        // The mock runtime registers no plugin: attaching changes nothing.
        let app = tauri::test::mock_app();
        autostart.attach(app.handle());
        assert!(!autostart.is_supported());
        assert!(!autostart.is_enabled());
        assert_eq!(autostart.set(true), Err(UNSUPPORTED.to_owned()));
    }
}
