//! Which file Windows runs for a config's `"command"`.
//!
//! Node and Python tools install themselves on Windows as `.cmd` shims (`npx.cmd`,
//! `pnpm.cmd`) next to real `.exe`s (`uvx.exe`). A terminal finds either through PATHEXT;
//! Rust's `Command` only tries `.exe` (rust-lang/rust#37519), so `"command": "npx"` would not
//! start. [`resolve_on_windows`] does the PATHEXT lookup over the child's PATH and hands
//! `Command` a full path. For a `.cmd` or `.bat`, std itself runs `cmd.exe /c` and escapes
//! every argument by cmd.exe's rules, refusing at spawn an argument it cannot escape safely
//! (since Rust 1.77.2, CVE-2024-24576; see "Batch file special handling" in `std::process`).
//! So no command line is ever composed here.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// What PATHEXT holds when the variable is missing.
const DEFAULT_PATHEXT: &str = ".COM;.EXE;.BAT;.CMD";

/// The extensions `CreateProcessW` (with std's batch-file handling) can start. PATHEXT often
/// lists more (`.JS`, `.VBS`, `.PY`), which need another program and are skipped.
const RUNNABLE: &[&str] = &[".com", ".exe", ".bat", ".cmd"];

/// The file Windows would run for `program`, looked up the way cmd.exe does it, except that
/// the current folder is never searched:
///
/// - a bare name (`npx`) is looked for in each folder of `path` (`;`-separated, entries may
///   be quoted), first as given if it already ends in a runnable PATHEXT extension, else with
///   each such extension of `pathext` in its order (so `npx.exe` before `npx.cmd`);
/// - a path without such an extension (`C:\tools\npx`) gets the same extensions appended.
///
/// `None` when nothing matches or `program` needs no lookup (a path with its extension):
/// then `Command` gets `program` unchanged and reports its own "not found".
pub fn resolve_on_windows(
    program: &str,
    path: Option<&OsStr>,
    pathext: Option<&OsStr>,
    is_file: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    let pathext = pathext
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PATHEXT.to_owned());
    let extensions: Vec<String> = pathext
        .split(';')
        .map(|ext| ext.trim().to_ascii_lowercase())
        .filter(|ext| RUNNABLE.contains(&ext.as_str()))
        .collect();
    let has_extension = extensions
        .iter()
        .any(|ext| ends_with_ignore_case(program, ext));
    let candidates = |base: PathBuf| -> Vec<PathBuf> {
        if has_extension {
            vec![base]
        } else {
            extensions
                .iter()
                .map(|ext| {
                    let mut name = base.clone().into_os_string();
                    name.push(ext);
                    PathBuf::from(name)
                })
                .collect()
        }
    };

    let is_bare_name = !program.contains(['/', '\\', ':']);
    if !is_bare_name {
        if has_extension {
            return None;
        }
        return candidates(PathBuf::from(program))
            .into_iter()
            .find(|candidate| is_file(candidate));
    }
    let path = path?.to_string_lossy().into_owned();
    path.split(';')
        .map(|dir| dir.trim().trim_matches('"'))
        .filter(|dir| !dir.is_empty())
        .flat_map(|dir| candidates(Path::new(dir).join(program)))
        .find(|candidate| is_file(candidate))
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text
            .get(text.len() - suffix.len()..)
            .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake PATH: two folders of shims, as npm and uv lay them out.
    struct Fake {
        _root: tempfile::TempDir,
        npm: PathBuf,
        uv: PathBuf,
    }

    impl Fake {
        fn new() -> Fake {
            let root = tempfile::tempdir().unwrap();
            let npm = root.path().join("npm");
            let uv = root.path().join("uv bin");
            for dir in [&npm, &uv] {
                std::fs::create_dir(dir).unwrap();
            }
            for file in ["npx", "npx.cmd", "npx.ps1", "tool.js", "both.cmd"] {
                std::fs::write(npm.join(file), "").unwrap();
            }
            for file in ["uvx.exe", "both.exe"] {
                std::fs::write(uv.join(file), "").unwrap();
            }
            std::fs::create_dir(uv.join("dir.exe")).unwrap();
            Fake {
                _root: root,
                npm,
                uv,
            }
        }

        fn path(&self) -> String {
            format!("{};;\"{}\"", self.npm.display(), self.uv.display())
        }

        fn resolve(&self, program: &str, pathext: Option<&str>) -> Option<PathBuf> {
            resolve_on_windows(
                program,
                Some(OsStr::new(&self.path())),
                pathext.map(OsStr::new),
                Path::is_file,
            )
        }
    }

    const PATHEXT: Option<&str> = Some(".COM;.EXE;.BAT;.CMD;.VBS;.JS;.PY");

    #[test]
    fn a_bare_name_finds_the_cmd_shim_not_the_sh_script_beside_it() {
        let fake = Fake::new();
        assert_eq!(fake.resolve("npx", PATHEXT), Some(fake.npm.join("npx.cmd")));
        // A missing PATHEXT means the Windows default, which has .CMD too.
        assert_eq!(fake.resolve("npx", None), Some(fake.npm.join("npx.cmd")));
    }

    #[test]
    fn a_quoted_folder_with_a_space_is_searched_after_empty_entries() {
        let fake = Fake::new();
        assert_eq!(fake.resolve("uvx", PATHEXT), Some(fake.uv.join("uvx.exe")));
    }

    #[test]
    fn the_first_folder_wins_then_the_pathext_order() {
        let fake = Fake::new();
        // both.cmd (first folder) beats both.exe (second folder)...
        assert_eq!(
            fake.resolve("both", PATHEXT),
            Some(fake.npm.join("both.cmd"))
        );
        // ...and within one folder .EXE comes before .CMD.
        std::fs::write(fake.npm.join("both.exe"), "").unwrap();
        assert_eq!(
            fake.resolve("both", PATHEXT),
            Some(fake.npm.join("both.exe"))
        );
    }

    #[test]
    fn a_name_with_its_extension_is_found_as_given() {
        let fake = Fake::new();
        assert_eq!(
            fake.resolve("npx.cmd", PATHEXT),
            Some(fake.npm.join("npx.cmd"))
        );
        assert_eq!(
            fake.resolve("uvx.exe", PATHEXT),
            Some(fake.uv.join("uvx.exe"))
        );
        // Extensions compare without case (the file system decides the rest).
        assert!(ends_with_ignore_case("npx.CMD", ".cmd"));
        assert!(!ends_with_ignore_case("md", ".cmd"));
    }

    #[test]
    fn scripts_that_need_another_interpreter_are_not_picked() {
        let fake = Fake::new();
        // tool.js is on PATHEXT's list but CreateProcess cannot start it.
        assert_eq!(fake.resolve("tool", PATHEXT), None);
        // Nor is a folder a program, whatever its name.
        assert_eq!(fake.resolve("dir", PATHEXT), None);
    }

    #[test]
    fn paths_get_extensions_appended_and_unknown_names_are_left_to_std() {
        let fake = Fake::new();
        let npx = fake.npm.join("npx");
        assert_eq!(
            fake.resolve(npx.to_str().unwrap(), PATHEXT),
            Some(fake.npm.join("npx.cmd"))
        );
        let uvx = fake.uv.join("uvx.exe");
        assert_eq!(fake.resolve(uvx.to_str().unwrap(), PATHEXT), None);
        assert_eq!(fake.resolve("no-such-tool", PATHEXT), None);
        assert_eq!(fake.resolve("", PATHEXT), None);
        assert_eq!(
            resolve_on_windows("npx", None, None, |_| true),
            None,
            "no PATH, nothing to search"
        );
    }
}
