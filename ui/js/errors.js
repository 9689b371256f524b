// The words shown for a failed command. Every command fails with `{code, message}`
// (`CommandError` in src-tauri/src/commands.rs); the message is the backend's own, and the
// backend is the one that validates, so its message is what the user reads. A few codes get
// a sentence that says what to do in this window, with the backend's words after it.
// Pure: no DOM, unit-tested in ui/test/.

const FRIENDLY = {
  query_auth_off:
    "Query-parameter auth is turned off. Turn on “Allow query-parameter auth” in Settings and add this server's origin first.",
  needs_acknowledgement: "Tick “I understand” to save a key that is sent in the URL.",
  port_in_use: "Another program is using that port. Choose another one.",
  starting: "The proxy is still starting. Try again in a moment.",
};

// The backend's message repeats the friendly sentence in other words; it adds nothing.
const FRIENDLY_ONLY = new Set(["needs_acknowledgement"]);

/** The text for `error`: a `{code, message}` from a command, or anything else thrown. */
export function errorText(error) {
  if (error && typeof error === "object") {
    const friendly = FRIENDLY[error.code];
    if (friendly) {
      return error.message && !FRIENDLY_ONLY.has(error.code)
        ? `${friendly} (${error.message})`
        : friendly;
    }
    if (error.message) return error.message;
  }
  return String(error);
}
