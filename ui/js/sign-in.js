// The words of OAuth sign-in: what a server card says about its sign-in (`auth` in the
// state: `AuthStatus` in crates/core/src/oauth/authorizer.rs), while the browser is out,
// and what "Test connection" found. Pure: no DOM, unit-tested in ui/test/.
//
// `auth`: { state: "unknown" | "signed-in" | "signed-out" | "needs-sign-in", account?,
//           issuer?, expiresAt? (unix seconds), scope?, refreshable, message?, machine }

/** The server's state as its badge shows it. */
export function stateLabel(state) {
  return state === "needs-sign-in" ? "needs sign-in" : state;
}

/** "auth.example.com" (with ":port" when it has one) of a URL, or the text as it is. */
export function hostOf(url) {
  try {
    return new URL(url).host || String(url);
  } catch (_) {
    return String(url);
  }
}

/** "less than a minute", "5 min", "3 h", "2 days". */
export function durationWords(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return "less than a minute";
  if (s < 120 * 60) return `${Math.floor(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} days`;
}

/** "Signed in as ada@example.com", "Signed in at auth.example.com", or "Signed in". */
export function signedInText(auth) {
  if (auth.account) return `Signed in as ${auth.account}`;
  if (auth.issuer) return `Signed in at ${hostOf(auth.issuer)}`;
  return "Signed in";
}

/** How long the token lasts, for a signed-in server; `now` in unix seconds. */
export function expiryText(auth, now) {
  if (auth.refreshable || auth.machine) return "token renews automatically";
  if (typeof auth.expiresAt !== "number") return "";
  const left = auth.expiresAt - now;
  if (left <= 0) return "token expired: sign in again";
  return `token expires in ${durationWords(left)}; sign in again then`;
}

/** Whether `expiryText` changes as time passes (the card then re-reads it now and then). */
export function expiryTicks(auth) {
  return !!auth && auth.state === "signed-in" && !auth.refreshable && !auth.machine && typeof auth.expiresAt === "number";
}

/**
 * What a card shows for `auth` (null: no sign-in, nothing to show):
 * `{ badge, text, detail, signIn, signOut }`. `badge` is null or the words of the visible
 * badge; `signIn` / `signOut` say which button the card offers.
 */
export function authView(auth, now) {
  if (!auth) return null;
  const view = { badge: null, text: "", detail: "", signIn: false, signOut: false };
  if (auth.machine) {
    // Machine to machine: no one signs in; the client's own credentials fetch the token.
    if (auth.state === "signed-in") {
      view.text = auth.issuer ? `Token from ${hostOf(auth.issuer)} (machine to machine)` : "Token fetched (machine to machine)";
      view.detail = expiryText(auth, now);
    } else if (auth.state === "needs-sign-in") {
      view.badge = "Token refused";
      view.text = auth.message || "The authorization server refused the client's credentials.";
    } else {
      view.text = "Machine to machine: the token is fetched when the server is first used.";
    }
    return view;
  }
  switch (auth.state) {
    case "signed-in":
      view.text = signedInText(auth);
      view.detail = expiryText(auth, now);
      view.signOut = true;
      break;
    case "needs-sign-in":
    case "signed-out":
      view.badge = "Needs sign-in";
      view.text = auth.message || "Not signed in yet.";
      view.signIn = true;
      break;
    default:
      view.text = "Reading the sign-in from the keychain…";
  }
  return view;
}

/**
 * What the card says while the browser is out: `pending` is `{}` until `sign_in` answered,
 * then its answer `{ host, url, opened }`.
 */
export function pendingText(pending) {
  if (!pending.url) return "Opening your browser to sign in…";
  if (pending.opened === false) {
    return `Your browser did not open. Open the address below in a browser to sign in at ${pending.host}.`;
  }
  return `Opening your browser to sign in at ${pending.host}…`;
}

/** "Test connection" of an OAuth server: what discovery found, a line each. */
export function discoveryLines(found) {
  return [
    ...(found.steps || []),
    `Authorization server: ${found.issuer}`,
    `Switchboard identifies itself with ${found.registration}`,
  ];
}

/** The seconds since the Unix epoch now. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);
