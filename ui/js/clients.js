// "Your apps" on the Connect page: the words and arguments for other MCP clients' config
// files. A status is one row of `client_list` (`ClientStatus` in core: the file, the app's
// title, whether Switchboard is connected to it); a plan is what `client_connect_preview`
// returns (the change as a diff, the key and the app's own secrets masked).
// Pure: no DOM, unit-tested in ui/test/.
import { plural } from "./format.js";

/** One app's file among all. */
export function statusKey(status) {
  return `${status.file.client}:${status.file.scope}`;
}

/** The app's name, and which of its files when it is a project's. */
export function appTitle(status) {
  return status.file.scope === "project" ? `${status.title} (project)` : status.title;
}

const STATES = {
  connected: "connected",
  "not-connected": "not connected",
  "changed-since": "changed by hand since",
};

/** What Switchboard has done to the app's file. */
export function stateText(status) {
  return STATES[status.state] || status.state;
}

/** "3 servers", or why the file could not be read. */
export function serversText(status) {
  if (status.error) return `cannot be read: ${status.error}`;
  if (!status.exists) return "no file (Switchboard made it)";
  return plural(status.servers, "server", "servers");
}

/** Undo is there once Switchboard wrote the file. */
export function canUndo(status) {
  return status.state !== "not-connected";
}

/** The file changed since Switchboard wrote it: undo would throw that change away. */
export function undoNeedsForce(status) {
  return status.state === "changed-since";
}

/** `client_connect_preview`'s arguments; `profile` "" is All servers (`/mcp`). */
export function connectArgs(status, profile, turnOff) {
  return {
    client: status.file.client,
    scope: status.file.scope,
    profile: profile || null,
    turnOffImported: !!turnOff,
  };
}

/** `client_undo`'s arguments. */
export function undoArgs(status, force) {
  return { client: status.file.client, scope: status.file.scope, force: !!force };
}

/** The endpoints to connect an app to: All servers, then each profile. */
export function endpointChoices(state) {
  const choices = [{ value: "", label: "All servers" }];
  for (const profile of (state && state.profiles) || []) {
    choices.push({ value: profile.name, label: `Profile ${profile.name}` });
  }
  return choices;
}

/** What the previewed change does, in a sentence or two. */
export function planSummary(plan, title) {
  if (!plan.changes) return `${title} is connected already: nothing to change.`;
  const parts = [
    plan.exists
      ? `Adds “${plan.entry}” to ${plan.file.path}:`
      : `Creates ${plan.file.path} with “${plan.entry}”:`,
  ];
  if (plan.turnedOff && plan.turnedOff.length) {
    const them = plan.turnedOff.length === 1 ? "it" : "them";
    parts.unshift(`Switches off or takes out ${title}'s own ${plan.turnedOff.join(", ")} (Switchboard carries ${them}).`);
  }
  return parts.join(" ");
}

/** The diff's lines, each with its kind: `add`, `del`, `hunk`, `head` or `context`. */
export function diffLines(diff) {
  const lines = (diff || "").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((text) => {
    let kind = "context";
    if (text.startsWith("+++") || text.startsWith("---")) kind = "head";
    else if (text.startsWith("@@")) kind = "hunk";
    else if (text.startsWith("+")) kind = "add";
    else if (text.startsWith("-")) kind = "del";
    return { text, kind };
  });
}
