import { test } from "node:test";
import assert from "node:assert/strict";
import { ALL_SERVERS, connectTargets, findTarget } from "../js/connect-targets.js";

const state = {
  profiles: [{ name: "work" }],
  servers: [{ name: "demo" }, { name: "fx" }],
};

test("All servers comes first, then the profiles, then the servers", () => {
  assert.deepEqual(
    connectTargets(state).map((t) => [t.value, t.label, t.group, t.args]),
    [
      [ALL_SERVERS, "All servers", "Every server", {}],
      ["profile:work", "work", "Profiles", { profile: "work" }],
      ["server:demo", "demo", "Servers", { name: "demo" }],
      ["server:fx", "fx", "Servers", { name: "fx" }],
    ],
  );
});

test("All servers is there before the first state and with nothing configured", () => {
  assert.deepEqual(connectTargets(null).map((t) => t.value), [ALL_SERVERS]);
  assert.deepEqual(connectTargets({ servers: [], profiles: [] }).map((t) => t.value), [ALL_SERVERS]);
});

test("a target that is gone falls back to All servers", () => {
  const targets = connectTargets(state);
  assert.equal(findTarget(targets, "server:fx").label, "fx");
  assert.equal(findTarget(targets, "server:removed").value, ALL_SERVERS);
  assert.equal(findTarget(targets, "").value, ALL_SERVERS);
});
