//! "Start at login": an XDG autostart entry (`$XDG_CONFIG_HOME/autostart/switchboard.desktop`)
//! on Linux. Other platforms report it as unsupported.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The entry's file name in the autostart folder.
pub const ENTRY_FILE: &str = "switchboard.desktop";

/// Where the entry goes and what it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autostart {
    /// `None`: not supported on this platform.
    dir: Option<PathBuf>,
    program: PathBuf,
}

impl Autostart {
    pub fn new(dir: Option<PathBuf>, program: PathBuf) -> Autostart {
        Autostart { dir, program }
    }

    pub fn is_supported(&self) -> bool {
        self.dir.is_some()
    }

    /// Whether the entry exists (and is not disabled with `Hidden=true`).
    pub fn is_enabled(&self) -> bool {
        self.entry()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .is_some_and(|text| !text.lines().any(|l| l.trim() == "Hidden=true"))
    }

    /// Writes (atomically) or removes the entry. Removing a missing entry is not an error.
    pub fn set(&self, enabled: bool) -> Result<(), String> {
        let path = self
            .entry()
            .ok_or_else(|| "start at login is only supported on Linux for now".to_owned())?;
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

    fn entry(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(ENTRY_FILE))
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
    fn unsupported_without_a_folder() {
        let autostart = Autostart::new(None, "/x".into());
        assert!(!autostart.is_supported());
        assert!(!autostart.is_enabled());
        assert!(autostart.set(true).is_err());
    }
}
