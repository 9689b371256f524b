// What "Connect a client" offers, aggregate first: All servers (`/mcp`), then each
// profile, then each server. Each target carries the `client_setup` arguments that name it.
// Pure: no DOM, unit-tested in ui/test/.

export const ALL_SERVERS = "all";

/** `[{value, label, group, args}]` for the state's endpoints, in the order to offer them. */
export function connectTargets(state) {
  const targets = [{ value: ALL_SERVERS, label: "All servers", group: "Every server", args: {} }];
  for (const profile of (state && state.profiles) || []) {
    targets.push({ value: `profile:${profile.name}`, label: profile.name, group: "Profiles", args: { profile: profile.name } });
  }
  for (const server of (state && state.servers) || []) {
    targets.push({ value: `server:${server.name}`, label: server.name, group: "Servers", args: { name: server.name } });
  }
  return targets;
}

/** The target with `value`, else the first one (All servers). */
export function findTarget(targets, value) {
  return targets.find((t) => t.value === value) || targets[0];
}
