import { test } from "node:test";
import assert from "node:assert/strict";
import { profileFromForm, profileKeyText, profileProblem, profileServersText } from "../js/profile-form.js";

test("a profile needs a name and a server", () => {
  assert.equal(profileProblem("  ", ["demo"]), "Give the profile a name.");
  assert.equal(profileProblem("work", []), "Pick at least one server.");
  assert.equal(profileProblem("work", ["demo"]), null);
});

test("a new profile carries the picked servers, with ownKey only when on", () => {
  assert.deepEqual(profileFromForm(null, ["demo", "fx"], false), { servers: { demo: {}, fx: {} } });
  assert.deepEqual(profileFromForm(null, ["demo"], true), { servers: { demo: {} }, ownKey: true });
});

test("an edit keeps each remaining server's place, prefix and filters, and unknown fields", () => {
  const existing = {
    servers: { fx: { prefix: "f", tools: { deny: ["pid"] } }, demo: {}, gone: { prefix: "g" } },
    ownKey: true,
    futureOption: 1,
  };
  const saved = profileFromForm(existing, ["demo", "new", "fx"], false);
  assert.deepEqual(saved, {
    servers: { fx: { prefix: "f", tools: { deny: ["pid"] } }, demo: {}, new: {} },
    futureOption: 1,
  });
  assert.deepEqual(Object.keys(saved.servers), ["fx", "demo", "new"]);
  // Not a field of the object's prototype either.
  assert.deepEqual(profileFromForm({ servers: {} }, ["constructor"], false), { servers: { constructor: {} } });
});

test("a profile's card text", () => {
  assert.equal(profileServersText({ servers: ["demo", "fx"] }), "demo, fx");
  assert.equal(profileServersText({ servers: [] }), "No servers");
  assert.equal(profileKeyText({ ownKey: true }), "own key");
  assert.equal(profileKeyText({ ownKey: false }), "API key");
});
