import { test } from "node:test";
import assert from "node:assert/strict";
import {
  candidateKey,
  chosenServers,
  enabledText,
  failedLines,
  groupByFile,
  importButtonText,
  itemLabel,
  keychainItems,
  neededItems,
  outcomeText,
  summaryText,
  targetText,
  valueRows,
} from "../js/import.js";

const CURSOR = "/home/u/.cursor/mcp.json";
const CLAUDE = "/home/u/.config/Claude/claude_desktop_config.json";

// Candidates as `import_preview` sends them (core's `Candidate`): never a secret value.
const github = {
  from: { client: "cursor", scope: "user", path: CURSOR },
  found: {
    name: "github",
    project: null,
    kind: "stdio",
    command: "npx",
    args: ["-y", "@modelcontextprotocol/server-github"],
    cwd: null,
    env: [
      { name: "GITHUB_TOKEN", class: "secret", shown: null },
      { name: "LOG_LEVEL", class: "plain", shown: "debug" },
    ],
    headers: [],
    enabled: true,
    skip: null,
    warnings: [],
  },
  name: "github",
  conflict: null,
  importable: true,
  secrets: [{ of: "env GITHUB_TOKEN", secret: "github.GITHUB_TOKEN", needsValue: false, placeholder: null }],
};

const remote = {
  from: { client: "claude-desktop", scope: "user", path: CLAUDE },
  found: {
    name: "my remote",
    project: null,
    kind: "remote",
    url: "https://mcp.example.com/mcp",
    transport: "auto",
    env: [],
    headers: [{ name: "Authorization", class: "placeholder", shown: "Bearer ${env:TOKEN}" }],
    enabled: false,
    skip: null,
    warnings: ["a warning"],
  },
  name: "my-remote",
  conflict: "'my remote' is not a valid name; imported as 'my-remote'",
  importable: true,
  secrets: [{ of: "header Authorization", secret: "my-remote.Authorization", needsValue: true, placeholder: "Bearer ${env:TOKEN}" }],
};

const again = {
  ...github,
  from: { client: "claude-desktop", scope: "user", path: CLAUDE },
  importable: false,
  conflict: "already in Switchboard as 'github'",
};

const preview = {
  candidates: [github, remote, again],
  unreadable: [],
  titles: { cursor: "Cursor", "claude-desktop": "Claude Desktop" },
};

test("servers are grouped by their file, in the preview's order, under the app's title", () => {
  assert.deepEqual(
    groupByFile(preview).map((g) => [g.path, g.title, g.candidates.map((c) => c.found.name)]),
    [
      [CURSOR, "Cursor", ["github"]],
      [CLAUDE, "Claude Desktop", ["my remote", "github"]],
    ],
  );
  const project = { ...github, from: { client: "zed", scope: "project", path: "/p/.zed/settings.json" } };
  assert.equal(groupByFile({ candidates: [project], titles: {} })[0].title, "zed (project)");
});

test("each server says what it runs and whether its app runs it", () => {
  assert.equal(targetText(github.found), "npx -y @modelcontextprotocol/server-github");
  assert.equal(targetText(remote.found), "https://mcp.example.com/mcp");
  assert.equal(targetText({ kind: "nothing" }), "nothing Switchboard can run or reach");
  assert.equal(enabledText(github.found, "Cursor"), "on in Cursor");
  assert.equal(enabledText(remote.found, "Claude Desktop"), "off in Claude Desktop");
});

test("a conflict or a skip is said", () => {
  assert.equal(outcomeText(github), null);
  assert.equal(outcomeText(remote), "Imported as 'my-remote': 'my remote' is not a valid name; imported as 'my-remote'");
  assert.equal(outcomeText(again), "Not imported: already in Switchboard as 'github'");
  const skipped = { ...github, importable: false, found: { ...github.found, skip: "it points at Switchboard" } };
  assert.equal(outcomeText(skipped), "Not imported: it points at Switchboard");
});

test("plain values are shown, secrets only named, placeholders asked for", () => {
  assert.deepEqual(valueRows(github), [
    { name: "env GITHUB_TOKEN", text: "secret: moves to the keychain (keychain item github.GITHUB_TOKEN)", kind: "secret" },
    { name: "env LOG_LEVEL", text: "debug", kind: "plain" },
  ]);
  assert.deepEqual(valueRows(remote), [
    {
      name: "header Authorization",
      text: "Bearer ${env:TOKEN}: filled in by the app; you'll be asked for it (keychain item my-remote.Authorization)",
      kind: "placeholder",
    },
  ]);
});

test("only checked servers that can be imported are sent, by file and name", () => {
  const checked = new Set([candidateKey(github), candidateKey(again)]);
  assert.deepEqual(
    chosenServers(preview.candidates, (key) => checked.has(key)),
    { chosen: [{ path: CURSOR, name: "github" }] },
  );
  assert.notEqual(candidateKey(github), candidateKey(again));
  assert.equal(importButtonText(0), "Import");
  assert.equal(importButtonText(1), "Import 1 server");
  assert.equal(importButtonText(2), "Import 2 servers");
});

test("the report says what was imported, what not, and what is still to set", () => {
  const report = {
    imported: ["github", "my-remote"],
    failed: [["broken", "the keychain is locked"]],
    needsValues: ["my-remote.Authorization"],
  };
  assert.equal(summaryText(report), "Imported 2 servers: github, my-remote.");
  assert.equal(summaryText({ imported: [], failed: [], needsValues: [] }), "Nothing was imported.");
  assert.deepEqual(failedLines(report), ["broken: the keychain is locked"]);
  const items = keychainItems(report, preview.candidates);
  assert.deepEqual(items, [
    { secret: "github.GITHUB_TOKEN", of: "env GITHUB_TOKEN", server: "github", needsValue: false },
    { secret: "my-remote.Authorization", of: "header Authorization", server: "my-remote", needsValue: true },
  ]);
  assert.deepEqual(neededItems(report, items), [items[1]]);
  assert.equal(itemLabel(items[0]), "env GITHUB_TOKEN of github");
  assert.equal(itemLabel(neededItems({ needsValues: ["x.Y"] }, [])[0]), "x.Y");
});
