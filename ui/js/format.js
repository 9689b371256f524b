// Text the window shows for a piece of state. Pure: no DOM, unit-tested in ui/test/.

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** What a server runs or reaches: its command line, or its URL. */
export function targetOf(server) {
  const config = server.config || {};
  if (server.kind === "remote") return config.url || "";
  return [config.command, ...(config.args || [])].filter((s) => s !== undefined).join(" ");
}

/** What the aggregate endpoint ("All servers") holds. */
export function aggregateSummary(servers) {
  const on = servers.filter((s) => s.enabled).length;
  if (!servers.length) return "Every enabled server behind one endpoint; there are none yet.";
  return (
    `Every enabled server behind one endpoint (${on} of ${plural(servers.length, "server", "servers")}), ` +
    "each tool named <server>__<tool> (the Tools view shows the exact names)."
  );
}

/** "2 sessions · started 3 times · 1 unexpected exit"; remote servers have no process. */
export function serverStats(server) {
  const parts = [plural(server.sessions || 0, "session", "sessions")];
  if (server.kind !== "remote") {
    parts.push(`started ${plural(server.starts || 0, "time", "times")}`);
    parts.push(plural(server.unexpectedExits || 0, "unexpected exit", "unexpected exits"));
  }
  return parts.join(" · ");
}

/** The pill in the header for a state the Hub sent: its text and its colour. */
export function statusPill(state) {
  return state.proxyEnabled ? { text: "Running", kind: "ok" } : { text: "Proxy off", kind: "wait" };
}

/** Where the proxy listens, as the header and Settings show it. */
export function listeningText(state) {
  return state.listening || `http://127.0.0.1:${state.port}`;
}

/** A client snippet: a command line as it is, a config block as indented JSON. */
export function snippetText(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** Why the port saved in Settings is not the one a launch will use, or null. */
export function portOverrideText(override) {
  if (!override) return null;
  const given = override.source === "--port" ? `--port ${override.port}` : `${override.source}=${override.port}`;
  return (
    `Switchboard was started with ${given}. Saving still moves it now, but a launch with that ` +
    `setting uses port ${override.port}, not the one saved here.`
  );
}
