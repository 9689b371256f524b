// The profile form as values, and the profile the `save_profile` command takes (`Profile` in
// crates/core/src/config.rs: `{servers: {<server>: {prefix?, tools?, prompts?}}, ownKey?}`).
// The backend validates the name and is the authority; here is only the conversion and what
// the form can tell before sending. Pure: no DOM, unit-tested in ui/test/.

/** What is wrong with the form, or null. */
export function profileProblem(name, picked) {
  if (!String(name).trim()) return "Give the profile a name.";
  if (!picked.length) return "Pick at least one server.";
  return null;
}

/**
 * The profile to save from the servers `picked` and the own-key box. Servers `existing` (the
 * profile as in the file, when it is edited) already carried keep their place and what it
 * said about them (prefix, filters); new ones follow in the order given. Every other field of
 * `existing` is kept as it was.
 */
export function profileFromForm(existing, picked, ownKey) {
  const before = existing || {};
  const had = before.servers || {};
  const order = [...Object.keys(had).filter((name) => picked.includes(name)), ...picked.filter((name) => !Object.hasOwn(had, name))];
  const servers = {};
  for (const name of order) servers[name] = Object.hasOwn(had, name) ? had[name] : {};
  const profile = { ...before, servers };
  if (ownKey) profile.ownKey = true;
  else delete profile.ownKey;
  return profile;
}

/** The servers of a profile, for its card. */
export function profileServersText(profile) {
  return profile.servers.length ? profile.servers.join(", ") : "No servers";
}

/** What a profile's key is, for its card. */
export function profileKeyText(profile) {
  return profile.ownKey ? "own key" : "API key";
}
