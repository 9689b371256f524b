import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appTitle,
  canUndo,
  connectArgs,
  diffLines,
  endpointChoices,
  planSummary,
  serversText,
  stateText,
  statusKey,
  undoArgs,
  undoNeedsForce,
} from "../js/clients.js";

// Rows as `client_list` sends them (core's `ClientStatus`).
const status = (state, extra = {}) => ({
  file: { client: "cursor", scope: "user", path: "/home/u/.cursor/mcp.json" },
  title: "Cursor",
  exists: true,
  state,
  servers: 2,
  error: null,
  ...extra,
});

test("each app's state is said in words", () => {
  assert.equal(stateText(status("connected")), "connected");
  assert.equal(stateText(status("not-connected")), "not connected");
  assert.equal(stateText(status("changed-since")), "changed by hand since");
  assert.equal(serversText(status("connected")), "2 servers");
  assert.equal(serversText(status("connected", { servers: 1 })), "1 server");
  assert.equal(serversText(status("connected", { error: "line 3, column 1: x" })), "cannot be read: line 3, column 1: x");
  assert.equal(serversText(status("changed-since", { exists: false, servers: 0 })), "no file (Switchboard made it)");
  assert.equal(statusKey(status("connected")), "cursor:user");
  assert.equal(appTitle(status("connected")), "Cursor");
  assert.equal(appTitle(status("connected", { file: { client: "vscode", scope: "project", path: "/p" }, title: "VS Code" })), "VS Code (project)");
});

test("undo is offered once Switchboard wrote the file, and forced only after a change by hand", () => {
  assert.equal(canUndo(status("not-connected")), false);
  assert.equal(canUndo(status("connected")), true);
  assert.equal(undoNeedsForce(status("connected")), false);
  assert.equal(undoNeedsForce(status("changed-since")), true);
  assert.deepEqual(undoArgs(status("changed-since"), true), { client: "cursor", scope: "user", force: true });
});

test("connect names the app's file, the endpoint and the turn-off choice", () => {
  assert.deepEqual(connectArgs(status("not-connected"), "", false), {
    client: "cursor",
    scope: "user",
    profile: null,
    turnOffImported: false,
  });
  assert.deepEqual(connectArgs(status("not-connected"), "work", true), {
    client: "cursor",
    scope: "user",
    profile: "work",
    turnOffImported: true,
  });
  assert.deepEqual(endpointChoices({ profiles: [{ name: "work" }] }), [
    { value: "", label: "All servers" },
    { value: "work", label: "Profile work" },
  ]);
  assert.deepEqual(endpointChoices(null), [{ value: "", label: "All servers" }]);
});

test("the plan is summed up before its diff", () => {
  const plan = {
    file: { client: "cursor", scope: "user", path: "/home/u/.cursor/mcp.json" },
    entry: "switchboard",
    exists: true,
    changes: true,
    diff: "",
    turnedOff: [],
    note: "Restart it.",
  };
  assert.equal(planSummary(plan, "Cursor"), "Adds “switchboard” to /home/u/.cursor/mcp.json:");
  assert.equal(
    planSummary({ ...plan, exists: false, turnedOff: ["github"] }, "Cursor"),
    "Switches off or takes out Cursor's own github (Switchboard carries it). Creates /home/u/.cursor/mcp.json with “switchboard”:",
  );
  assert.match(planSummary({ ...plan, turnedOff: ["a", "b"] }, "Cursor"), /^Switches off or takes out Cursor's own a, b \(Switchboard carries them\)\./);
  assert.equal(planSummary({ ...plan, changes: false }, "Cursor"), "Cursor is connected already: nothing to change.");
});

test("diff lines are told apart", () => {
  const diff = "--- a\n+++ a\n@@ -1,2 +1,2 @@\n {\n-  \"x\": 1\n+  \"y\": 2\n";
  assert.deepEqual(
    diffLines(diff).map((l) => l.kind),
    ["head", "head", "hunk", "context", "del", "add"],
  );
  assert.equal(diffLines(diff)[4].text, '-  "x": 1');
  assert.deepEqual(diffLines(""), []);
});
