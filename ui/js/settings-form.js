// The Settings view's inputs as values the commands take. Pure: no DOM, unit-tested in
// ui/test/. The backend checks again and is the authority (`set_port`,
// `save_query_auth`); these checks only answer before a round trip.

/** What is wrong with the typed port, or null. Ports below 1024 need root to bind. */
export function portProblem(text) {
  const trimmed = String(text).trim();
  const port = Number(trimmed);
  if (!/^[0-9]+$/.test(trimmed) || port < 1024 || port > 65535) {
    return "Enter a whole number from 1024 to 65535.";
  }
  return null;
}

/** The allowed origins typed one per line (or separated by commas), blanks dropped. */
export function parseOrigins(text) {
  return String(text)
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}
