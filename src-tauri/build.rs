//! tauri-build runs with the package root (the repository root) as its working directory,
//! so every path here is relative to the root, where tauri.conf.json lives.

/// Every command the UI may call; each gets `allow-`/`deny-` permissions, so the capability
/// files decide which window may call it (without this list, any window could call any command).
const COMMANDS: &[&str] = &["proxy_info"];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    // tauri-build does not watch frontendDist; the assets are embedded at compile time.
    println!("cargo:rerun-if-changed=ui");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
