// The Tools view's words and arguments. A scope is what the view lists: `{profile, server}`,
// each a name or null; `profile: null` is the aggregate endpoint `/mcp` ("All servers"),
// `server` narrows it to one server. The inventory is what the `tools` command returns
// (`ToolsView` in src-tauri/src/commands.rs). Pure: no DOM, unit-tested in ui/test/.
import { plural } from "./format.js";

/** The tool counts that common clients take at most (Cursor's is approximate); past the
 * lowest, the view warns. */
export const CLIENT_CAPS = [
  { max: 40, text: "Cursor ~40" },
  { max: 128, text: "VS Code 128" },
];

/** The endpoint a scope belongs to, as the window names it. */
export function endpointLabel(scope) {
  return scope.profile ? `profile ${scope.profile}` : "All servers";
}

export function toolsTitle(scope) {
  if (!scope.server) return `Tools: ${endpointLabel(scope)}`;
  return scope.profile ? `Tools: ${scope.server} in profile ${scope.profile}` : `Tools: ${scope.server}`;
}

/** Where a switch takes effect: a server's own filter applies under every aggregate endpoint. */
export function switchReach(scope) {
  return scope.profile
    ? `A switch here applies to profile ${scope.profile} only.`
    : "A switch here applies to All servers and to every profile that carries the server.";
}

/** The `tools` command's arguments. */
export function toolsArgs(scope) {
  return { profile: scope.profile || null, server: scope.server || null };
}

/** The `set_tool_enabled` command's arguments for a tool's switch. */
export function switchArgs(scope, tool, enabled) {
  return { profile: scope.profile || null, server: tool.server, tool: tool.name, enabled };
}

/** "Clients see 3 of 5 tools." */
export function countText(inventory, scope) {
  const total = inventory.tools.length;
  const of = scope.server ? `${scope.server}'s ${plural(total, "tool", "tools")}` : plural(total, "tool", "tools");
  return `Clients see ${inventory.visible} of ${of}.`;
}

/** A warning when clients would see more tools than some accept, or null. */
export function capWarning(visible, scope) {
  if (visible <= CLIENT_CAPS[0].max) return null;
  const caps = CLIENT_CAPS.map((c) => c.text).join(", ");
  const shows = scope.server ? `${scope.server} alone shows ${visible}` : `This endpoint shows ${visible}`;
  return (
    `Some clients cap the tool count: ${caps}. ${shows}; switch off the tools you do not need, ` +
    "or give such a client a profile with fewer servers."
  );
}

/** The name a client sees, or why there is none. */
export function exposedText(tool) {
  return tool.exposed || "held back: clients do not see it";
}

/** Consecutive tools of one server together, in the inventory's order (the config's). */
export function groupByServer(tools) {
  const groups = [];
  for (const tool of tools) {
    const last = groups[groups.length - 1];
    if (last && last.server === tool.server) last.tools.push(tool);
    else groups.push({ server: tool.server, tools: [tool] });
  }
  return groups;
}

/** A server whose tools could not be listed. */
export function unavailableText(entry) {
  return `${entry.server}: its tools could not be listed (${entry.reason})`;
}
