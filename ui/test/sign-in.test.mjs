import { test } from "node:test";
import assert from "node:assert/strict";
import {
  authView,
  discoveryLines,
  durationWords,
  expiryText,
  expiryTicks,
  hostOf,
  pendingText,
  signedInText,
  stateLabel,
} from "../js/sign-in.js";

const NOW = 1_700_000_000;
const auth = (fields) => ({ refreshable: false, machine: false, ...fields });

test("the badge reads the server's state in words", () => {
  assert.equal(stateLabel("needs-sign-in"), "needs sign-in");
  for (const state of ["running", "idle", "disabled"]) assert.equal(stateLabel(state), state);
});

test("a signed-in server names the account, else the authorization server's host", () => {
  const issuer = "https://login.example.com:8443/tenant";
  assert.equal(signedInText(auth({ account: "ada@example.com", issuer })), "Signed in as ada@example.com");
  assert.equal(signedInText(auth({ issuer })), "Signed in at login.example.com:8443");
  assert.equal(signedInText(auth({})), "Signed in");
  assert.equal(hostOf("http://127.0.0.1:4100/as"), "127.0.0.1:4100");
  assert.equal(hostOf("not a url"), "not a url");
});

test("the token's life in words", () => {
  assert.equal(durationWords(30), "less than a minute");
  assert.equal(durationWords(5 * 60 + 59), "5 min");
  assert.equal(durationWords(119 * 60), "119 min");
  assert.equal(durationWords(3 * 3600), "3 h");
  assert.equal(durationWords(3 * 86400), "3 days");
  const signedIn = { state: "signed-in", expiresAt: NOW + 600 };
  assert.equal(expiryText(auth({ ...signedIn, refreshable: true }), NOW), "token renews automatically");
  assert.equal(expiryText(auth(signedIn), NOW), "token expires in 10 min; sign in again then");
  assert.equal(expiryText(auth(signedIn), NOW + 600), "token expired: sign in again");
  assert.equal(expiryText(auth({ state: "signed-in" }), NOW), "");
  assert.equal(expiryTicks(auth(signedIn)), true);
  assert.equal(expiryTicks(auth({ ...signedIn, refreshable: true })), false);
  assert.equal(expiryTicks(auth({ state: "signed-in" })), false);
  assert.equal(expiryTicks(null), false);
});

test("a person's server: Sign in when it needs one, Sign out when signed in", () => {
  assert.equal(authView(null, NOW), null);
  assert.deepEqual(
    authView(auth({ state: "signed-in", account: "ada@example.com", refreshable: true, expiresAt: NOW + 60 }), NOW),
    { badge: null, text: "Signed in as ada@example.com", detail: "token renews automatically", signIn: false, signOut: true },
  );
  const refused = "the authorization server refused to renew the sign-in (invalid_grant); sign in again";
  assert.deepEqual(authView(auth({ state: "needs-sign-in", message: refused }), NOW), {
    badge: "Needs sign-in",
    text: refused,
    detail: "",
    signIn: true,
    signOut: false,
  });
  const never = authView(auth({ state: "signed-out" }), NOW);
  assert.equal(never.badge, "Needs sign-in");
  assert.equal(never.text, "Not signed in yet.");
  assert.equal(never.signIn, true);
  const unknown = authView(auth({ state: "unknown" }), NOW);
  assert.equal(unknown.badge, null);
  assert.equal(unknown.signIn || unknown.signOut, false);
});

test("a machine's server never offers a sign-in", () => {
  const machine = (fields) => authView(auth({ machine: true, ...fields }), NOW);
  for (const state of ["unknown", "signed-out", "needs-sign-in", "signed-in"]) {
    const view = machine({ state, issuer: "https://as.example.com" });
    assert.equal(view.signIn, false, state);
    assert.equal(view.signOut, false, state);
  }
  assert.equal(machine({ state: "signed-out" }).badge, null);
  assert.equal(machine({ state: "needs-sign-in", message: "invalid_client" }).badge, "Token refused");
  assert.equal(machine({ state: "needs-sign-in", message: "invalid_client" }).text, "invalid_client");
  const signedIn = machine({ state: "signed-in", issuer: "https://as.example.com", expiresAt: NOW + 60 });
  assert.equal(signedIn.text, "Token from as.example.com (machine to machine)");
  assert.equal(signedIn.detail, "token renews automatically");
});

test("while the browser is out, the address is there to copy", () => {
  assert.equal(pendingText({}), "Opening your browser to sign in…");
  const url = "https://as.example.com/authorize?client_id=x";
  assert.equal(
    pendingText({ host: "as.example.com", url, opened: true }),
    "Opening your browser to sign in at as.example.com…",
  );
  assert.equal(
    pendingText({ host: "as.example.com", url, opened: false }),
    "Your browser did not open. Open the address below in a browser to sign in at as.example.com.",
  );
});

test("discovery in plain words: its steps, the issuer, how Switchboard identifies itself", () => {
  const found = {
    steps: ["the server answered 401 and named its resource metadata", "PKCE with S256: supported"],
    issuer: "https://as.example.com",
    registration: "dynamic client registration",
  };
  assert.deepEqual(discoveryLines(found), [
    "the server answered 401 and named its resource metadata",
    "PKCE with S256: supported",
    "Authorization server: https://as.example.com",
    "Switchboard identifies itself with dynamic client registration",
  ]);
});
