//! The config loader on any text: never a panic; an accepted config saves and loads back the
//! same; a syntax error names a line and column within the text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use switchboard_core::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/config.json");
    match Config::parse(text, path) {
        Ok(config) => {
            let dir = tempfile_dir();
            let file = dir.join("config.json");
            config.save(&file).expect("an accepted config saves");
            let again = Config::load(&file).expect("a saved config loads");
            assert_eq!(format!("{config:?}"), format!("{again:?}"));
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
        }
    }
});

/// One private folder per fuzzing process (targets run many inputs per process).
fn tempfile_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sb-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp folder");
        dir
    })
    .clone()
}
