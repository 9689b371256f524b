// The one way to the Rust side: Tauri's IPC, which `withGlobalTauri` (tauri.conf.json) puts
// on `window.__TAURI__`. No network fetches: the CSP allows none.

/** Calls an IPC command of src-tauri/src/commands.rs; rejects with `{code, message}`. */
export function invoke(command, args) {
  return window.__TAURI__.core.invoke(command, args);
}

/** Calls `handler(payload)` for every `event` the shell emits. */
export function listen(event, handler) {
  return window.__TAURI__.event.listen(event, (message) => handler(message.payload));
}
