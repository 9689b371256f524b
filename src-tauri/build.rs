//! tauri-build runs with the package root (the repository root) as its working directory,
//! so every path here is relative to the root, where tauri.conf.json lives.

/// Every command the UI may call; each gets `allow-`/`deny-` permissions, so the capability
/// files decide which window may call it (without this list, any window could call any command).
const COMMANDS: &[&str] = &[
    "get_state",
    "set_proxy_enabled",
    "set_port",
    "set_auth_required",
    "set_server_enabled",
    "save_server",
    "remove_server",
    "test_server",
    "server_logs",
    "secret_status",
    "set_secret",
    "delete_secret",
    "api_key",
    "rotate_key",
    "save_query_auth",
    "set_start_at_login",
    "client_setup",
    "tools",
    "set_tool_enabled",
    "save_profile",
    "remove_profile",
    "profile_key",
    "rotate_profile_key",
    "import_preview",
    "import_servers",
    "client_list",
    "client_connect_preview",
    "client_connect_apply",
    "client_undo",
    "sign_in",
    "sign_out",
    "auth_discovery",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    // tauri-build does not watch frontendDist; the assets are embedded at compile time.
    println!("cargo:rerun-if-changed=ui");
    // The tray icons are embedded with include_image!.
    println!("cargo:rerun-if-changed=icons");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
