//! The sign-ins that wait for the browser: at most one per server. Each holds its
//! `SignIn` (and with it the loopback listener) in a background task until the redirect
//! comes back, then tells the window with a `sign-in-finished` event. A newer sign-in for
//! the same server cancels the older one, which then says nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use switchboard_core::Hub;
use switchboard_core::oauth::{AuthState, AuthStatus, SignIn};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter, Runtime};

use crate::ShellExt;

/// Sent to the webview when a sign-in the window started has ended, well or not.
pub const SIGN_IN_FINISHED_EVENT: &str = "sign-in-finished";

/// The payload of [`SIGN_IN_FINISHED_EVENT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInFinished {
    pub name: String,
    pub ok: bool,
    /// "Signed in as ada@example.com", or why it failed (core's words: never a token).
    pub message: String,
}

struct Waiting {
    id: u64,
    task: JoinHandle<()>,
}

/// The sign-ins waiting for the browser, by server.
#[derive(Default)]
pub struct SignIns {
    waiting: Mutex<HashMap<String, Waiting>>,
    next_id: AtomicU64,
}

impl SignIns {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Waiting>> {
        // A panic elsewhere while holding the lock leaves the map itself consistent.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cancels the sign-in waiting for server `name`, if one is: its listener closes and
    /// no event follows.
    pub fn cancel(&self, name: &str) {
        if let Some(old) = self.lock().remove(name) {
            old.task.abort();
            log::info!("'{name}': the earlier sign-in was cancelled");
        }
    }

    /// Waits in the background for the browser to come back to `sign_in`'s listener; then
    /// sends [`SIGN_IN_FINISHED_EVENT`]. Replaces (cancels) any other sign-in of `name`.
    pub fn wait<R: Runtime>(&self, app: &AppHandle<R>, hub: Arc<Hub>, name: &str, sign_in: SignIn) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut waiting = self.lock();
        let (app, task_name) = (app.clone(), name.to_owned());
        // Spawned under the lock: the task's own `forget` waits for it to be recorded.
        let task = tauri::async_runtime::spawn(async move {
            let name = task_name;
            let result = hub.finish_sign_in(&name, sign_in).await;
            app.shell().sign_ins.forget(&name, id);
            let finished = match result {
                Ok(status) => {
                    let message = signed_in_text(&status);
                    log::info!("'{name}': {message}");
                    SignInFinished {
                        name,
                        ok: status.state == AuthState::SignedIn,
                        message,
                    }
                }
                Err(e) => {
                    log::warn!("sign-in failed: {e}");
                    SignInFinished {
                        name,
                        ok: false,
                        message: e.to_string(),
                    }
                }
            };
            if let Err(e) = app.emit(SIGN_IN_FINISHED_EVENT, &finished) {
                log::warn!("cannot send {SIGN_IN_FINISHED_EVENT}: {e}");
            }
            // The Hub ticks too; this makes sure the window's state follows at once.
            app.state_changed();
        });
        if let Some(old) = waiting.insert(name.to_owned(), Waiting { id, task }) {
            old.task.abort();
        }
    }

    /// The sign-in `id` of `name` has ended.
    fn forget(&self, name: &str, id: u64) {
        let mut waiting = self.lock();
        if waiting.get(name).is_some_and(|w| w.id == id) {
            waiting.remove(name);
        }
    }
}

/// "Signed in as ada@example.com", "Signed in at auth.example.com", or the state as it is.
pub fn signed_in_text(status: &AuthStatus) -> String {
    match (&status.state, &status.account, &status.issuer) {
        (AuthState::SignedIn, Some(account), _) => format!("Signed in as {account}"),
        (AuthState::SignedIn, None, Some(issuer)) => format!("Signed in at {}", host_of(issuer)),
        (AuthState::SignedIn, None, None) => "Signed in".to_owned(),
        (_, _, _) => status
            .message
            .clone()
            .unwrap_or_else(|| "The sign-in did not take effect; sign in again".to_owned()),
    }
}

/// The host (and port) of an issuer URL, or the issuer as it is.
fn host_of(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| issuer.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: AuthState, account: Option<&str>, issuer: Option<&str>) -> AuthStatus {
        AuthStatus {
            state,
            account: account.map(str::to_owned),
            issuer: issuer.map(str::to_owned),
            expires_at: None,
            scope: None,
            refreshable: true,
            message: None,
            machine: false,
        }
    }

    #[test]
    fn the_finished_message_names_the_account_or_the_issuer() {
        let issuer = Some("https://auth.example.com:8443/tenant");
        assert_eq!(
            signed_in_text(&status(
                AuthState::SignedIn,
                Some("ada@example.com"),
                issuer
            )),
            "Signed in as ada@example.com"
        );
        assert_eq!(
            signed_in_text(&status(AuthState::SignedIn, None, issuer)),
            "Signed in at auth.example.com:8443"
        );
        assert_eq!(
            signed_in_text(&status(AuthState::SignedIn, None, None)),
            "Signed in"
        );
        let mut refused = status(AuthState::NeedsSignIn, None, None);
        refused.message = Some("the keychain is locked".into());
        assert_eq!(signed_in_text(&refused), "the keychain is locked");
    }
}
