// The Import view's words and choices. A preview is what `import_preview` returns
// (`ImportView` in src-tauri/src/commands.rs: core's candidates and unreadable files, and
// each client's title); a report is what `import_servers` returns. Neither ever holds a
// secret value: a secret comes named, with the keychain item it moves to.
// Pure: no DOM, unit-tested in ui/test/.
import { plural } from "./format.js";

/** The client's title, or its id when the preview has none for it. */
export function clientTitle(preview, client) {
  return (preview.titles && preview.titles[client]) || client;
}

/** The candidates by client file, in the preview's order: `[{path, title, candidates}]`. */
export function groupByFile(preview) {
  const groups = [];
  for (const candidate of preview.candidates || []) {
    const path = candidate.from.path;
    let group = groups.find((g) => g.path === path);
    if (!group) {
      const title = clientTitle(preview, candidate.from.client);
      group = { path, title: candidate.from.scope === "project" ? `${title} (project)` : title, candidates: [] };
      groups.push(group);
    }
    group.candidates.push(candidate);
  }
  return groups;
}

/** One candidate among all: its file and its name there. */
export function candidateKey(candidate) {
  return `${candidate.from.path}\n${candidate.found.name}`;
}

/** What a found server runs or reaches. */
export function targetText(found) {
  if (found.kind === "stdio") return [found.command, ...(found.args || [])].join(" ");
  if (found.kind === "remote") return found.url;
  return "nothing Switchboard can run or reach";
}

/** Whether the app itself runs it. */
export function enabledText(found, title) {
  return found.enabled ? `on in ${title}` : `off in ${title}`;
}

/** What importing does with it, when that is more than importing it under its own name. */
export function outcomeText(candidate) {
  if (candidate.found.skip) return `Not imported: ${candidate.found.skip}`;
  if (!candidate.importable) return `Not imported: ${candidate.conflict || "nothing to import"}`;
  if (candidate.conflict) return `Imported as '${candidate.name}': ${candidate.conflict}`;
  return null;
}

/**
 * Its environment variables and headers, as the view lists them: `[{name, text, kind}]`,
 * `kind` being `plain` (shown as it is), `secret` (moves to the keychain; never shown) or
 * `placeholder` (the app fills it in itself, so the person is asked for it).
 */
export function valueRows(candidate) {
  const rows = [];
  const found = candidate.found;
  for (const [what, values] of [
    ["env", found.env || []],
    ["header", found.headers || []],
  ]) {
    for (const value of values) {
      const moved = (candidate.secrets || []).find((m) => m.of === `${what} ${value.name}`);
      const item = moved ? ` (keychain item ${moved.secret})` : "";
      let text;
      if (value.class === "secret") text = `secret: moves to the keychain${item}`;
      else if (value.class === "placeholder") text = `${value.shown}: filled in by the app; you'll be asked for it${item}`;
      else text = value.shown === null || value.shown === undefined ? "" : value.shown;
      rows.push({ name: `${what} ${value.name}`, text, kind: value.class });
    }
  }
  return rows;
}

/** The `import_servers` arguments for the checked candidates (`isChecked(key)`). */
export function chosenServers(candidates, isChecked) {
  return {
    chosen: candidates
      .filter((c) => c.importable && isChecked(candidateKey(c)))
      .map((c) => ({ path: c.from.path, name: c.found.name })),
  };
}

/** The Import button's words for `n` checked servers. */
export function importButtonText(n) {
  return n ? `Import ${plural(n, "server", "servers")}` : "Import";
}

/** The report's first line. */
export function summaryText(report) {
  const imported = report.imported || [];
  if (!imported.length) return "Nothing was imported.";
  return `Imported ${plural(imported.length, "server", "servers")}: ${imported.join(", ")}.`;
}

/** The servers that were not imported, each with why. */
export function failedLines(report) {
  return (report.failed || []).map(([name, why]) => `${name}: ${why}`);
}

/** The keychain items of the imported servers: `[{secret, of, server, needsValue}]`. */
export function keychainItems(report, candidates) {
  const imported = new Set(report.imported || []);
  return candidates
    .filter((c) => c.importable && imported.has(c.name))
    .flatMap((c) => (c.secrets || []).map((m) => ({ secret: m.secret, of: m.of, server: c.name, needsValue: m.needsValue })));
}

/** The values the person still has to set (the report's `needsValues`), each described. */
export function neededItems(report, items) {
  return (report.needsValues || []).map(
    (secret) => items.find((i) => i.secret === secret) || { secret, of: secret, server: "", needsValue: true },
  );
}

/** How a keychain item is labelled: `env GITHUB_TOKEN of github`. */
export function itemLabel(item) {
  return item.server ? `${item.of} of ${item.server}` : item.of;
}
