import { test } from "node:test";
import assert from "node:assert/strict";
import {
  capWarning,
  countText,
  exposedText,
  groupByServer,
  switchArgs,
  switchReach,
  toolsArgs,
  toolsTitle,
  unavailableText,
} from "../js/tools.js";

const ALL = { profile: null, server: null };
const DEMO = { profile: null, server: "demo" };
const WORK = { profile: "work", server: null };

// Rows as the `tools` command sends them.
const tool = (server, name, enabled) => ({
  server,
  name,
  exposed: enabled ? `${server}__${name}` : null,
  description: null,
  enabled,
});

test("each scope has its title and says how far a switch reaches", () => {
  assert.equal(toolsTitle(ALL), "Tools: All servers");
  assert.equal(toolsTitle(DEMO), "Tools: demo");
  assert.equal(toolsTitle(WORK), "Tools: profile work");
  assert.equal(toolsTitle({ profile: "work", server: "demo" }), "Tools: demo in profile work");
  assert.match(switchReach(DEMO), /All servers and to every profile/);
  assert.equal(switchReach(WORK), "A switch here applies to profile work only.");
});

test("the commands get null for what the scope leaves open", () => {
  assert.deepEqual(toolsArgs(ALL), { profile: null, server: null });
  assert.deepEqual(toolsArgs(DEMO), { profile: null, server: "demo" });
  assert.deepEqual(switchArgs(WORK, tool("demo", "echo", true), false), {
    profile: "work",
    server: "demo",
    tool: "echo",
    enabled: false,
  });
  assert.deepEqual(switchArgs(ALL, tool("fx", "pid", false), true), {
    profile: null,
    server: "fx",
    tool: "pid",
    enabled: true,
  });
});

test("the count says what clients see", () => {
  const inventory = { tools: [tool("demo", "echo", true), tool("demo", "time", false)], visible: 1, unavailable: [] };
  assert.equal(countText(inventory, ALL), "Clients see 1 of 2 tools.");
  assert.equal(countText(inventory, DEMO), "Clients see 1 of demo's 2 tools.");
  assert.equal(countText({ tools: [tool("a", "x", true)], visible: 1 }, ALL), "Clients see 1 of 1 tool.");
});

test("past Cursor's cap the view warns, naming the common caps", () => {
  assert.equal(capWarning(0, ALL), null);
  assert.equal(capWarning(40, ALL), null);
  const warning = capWarning(41, ALL);
  assert.match(warning, /^Some clients cap the tool count: Cursor ~40, VS Code 128\. This endpoint shows 41;/);
  assert.match(capWarning(200, DEMO), /demo alone shows 200;/);
});

test("a held-back tool has no exposed name", () => {
  assert.equal(exposedText(tool("demo", "echo", true)), "demo__echo");
  assert.equal(exposedText(tool("demo", "echo", false)), "held back: clients do not see it");
});

test("tools are grouped by server in the order they came", () => {
  const tools = [tool("a", "x", true), tool("a", "y", false), tool("b", "x", true)];
  assert.deepEqual(
    groupByServer(tools).map((g) => [g.server, g.tools.map((t) => t.name)]),
    [
      ["a", ["x", "y"]],
      ["b", ["x"]],
    ],
  );
  assert.deepEqual(groupByServer([]), []);
});

test("a server that could not be listed says why", () => {
  assert.equal(
    unavailableText({ server: "broken", reason: "cannot start" }),
    "broken: its tools could not be listed (cannot start)",
  );
});
