// Profiles, in Settings: each one's servers, endpoint and key, and the form that creates or
// edits one. A profile's own key never enters the page: Copy key puts it straight on the
// clipboard, as Settings does with the API key.
import { $, copyText, flash, nextId, showError } from "./dom.js";
import { invoke } from "./ipc.js";
import { profileFromForm, profileKeyText, profileProblem, profileServersText } from "./profile-form.js";
import { openTools } from "./render-tools.js";
import { store } from "./store.js";
import { onViewChange } from "./views.js";

const cards = new Map(); // name -> { el, profile }
// The profile the form edits (its name is fixed), or null for a new one.
let editing = null;

function makeCard(name) {
  const el = $("profile-card").content.firstElementChild.cloneNode(true);
  el.dataset.profile = name;
  const q = (css) => el.querySelector(css);
  const errorEl = q(".profile-error");
  q(".copy-url").setAttribute("aria-label", `Copy the endpoint URL of profile ${name}`);
  q(".profile-tools").setAttribute("aria-label", `Tools of profile ${name}`);
  q(".profile-edit").setAttribute("aria-label", `Edit profile ${name}`);
  q(".profile-copy-key").setAttribute("aria-label", `Copy the key of profile ${name}`);
  q(".profile-rotate").setAttribute("aria-label", `Rotate the key of profile ${name}`);
  q(".profile-remove").setAttribute("aria-label", `Delete profile ${name}`);

  q(".copy-url").addEventListener("click", (event) => {
    copyText(q(".endpoint-url").textContent, q(".endpoint-url"), event.currentTarget);
  });
  q(".profile-tools").addEventListener("click", () => openTools({ profile: name, server: null }, "settings"));
  q(".profile-edit").addEventListener("click", () => openForm(cards.get(name).profile));
  q(".profile-copy-key").addEventListener("click", async () => {
    showError(errorEl, null);
    try {
      const key = await invoke("profile_key", { name });
      // Straight to the clipboard; the key is never put into the page.
      try {
        await navigator.clipboard.writeText(key);
        flash(q(".profile-result"), "Key copied");
      } catch (_) {
        showError(errorEl, "The clipboard is not available here. Use “Connect a client” and Reveal instead.");
      }
    } catch (error) {
      showError(errorEl, error);
    }
  });
  confirmable(el, ".profile-rotate", ".profile-rotate-confirm", ".profile-rotate-no", ".profile-rotate-yes", async () => {
    await invoke("rotate_profile_key", { name });
    flash(q(".profile-result"), "New key made. Give it to this profile's clients (Copy key).");
  });
  confirmable(el, ".profile-remove", ".profile-remove-confirm", ".profile-remove-no", ".profile-remove-yes", async () => {
    // The card goes when the state without the profile arrives.
    await invoke("remove_profile", { name });
    if (editing && editing.name === name) closeForm();
  });
  return el;
}

/** A button that asks first: `yes` runs the action, `no` puts the question away. */
function confirmable(el, open, box, no, yes, action) {
  const q = (css) => el.querySelector(css);
  q(open).addEventListener("click", () => {
    q(box).hidden = false;
    q(no).focus();
  });
  q(no).addEventListener("click", () => {
    q(box).hidden = true;
    q(open).focus();
  });
  q(yes).addEventListener("click", async () => {
    showError(q(".profile-error"), null);
    try {
      await action();
      q(box).hidden = true;
    } catch (error) {
      showError(q(".profile-error"), error);
    }
  });
}

function updateCard(el, profile) {
  const q = (css) => el.querySelector(css);
  q(".profile-name").textContent = profile.name;
  q(".profile-key-kind").textContent = profileKeyText(profile);
  q(".profile-servers").textContent = profileServersText(profile);
  q(".endpoint-url").textContent = profile.mcpUrl;
  q(".profile-copy-key").hidden = !profile.ownKey;
  q(".profile-rotate").hidden = !profile.ownKey;
  if (!profile.ownKey) q(".profile-rotate-confirm").hidden = true;
}

/** A new state: the profiles, and the servers the form offers. */
export function renderProfiles(state) {
  const profiles = state.profiles || [];
  const list = $("profiles");
  const seen = new Set();
  profiles.forEach((profile, index) => {
    seen.add(profile.name);
    let entry = cards.get(profile.name);
    if (!entry) {
      entry = { el: makeCard(profile.name), profile };
      cards.set(profile.name, entry);
    }
    entry.profile = profile;
    updateCard(entry.el, profile);
    if (list.children[index] !== entry.el) list.insertBefore(entry.el, list.children[index] || null);
  });
  for (const [name, entry] of cards) {
    if (!seen.has(name)) {
      entry.el.remove();
      cards.delete(name);
    }
  }
  $("no-profiles").hidden = profiles.length > 0;
  if (!$("profile-form").hidden) syncServerChoices(state, null);
}

// ------------------------------------------------------------------------------ form ---

/** The server checkboxes, one per server; `checked` (names) replaces the ticks, else the
 * ticks the user made are kept. */
function syncServerChoices(state, checked) {
  const list = $("profile-servers");
  const ticked = checked || [...list.querySelectorAll("input:checked")].map((input) => input.value);
  const names = ((state && state.servers) || []).map((s) => s.name);
  const shown = [...list.querySelectorAll("input")].map((input) => input.value);
  if (!checked && shown.join("\n") === names.join("\n")) return;
  list.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement("li");
      const label = document.createElement("label");
      label.className = "check";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = name;
      input.id = nextId("profile-server");
      input.checked = ticked.includes(name);
      const text = document.createElement("span");
      text.textContent = name;
      label.append(input, text);
      li.append(label);
      return li;
    }),
  );
  $("profile-no-servers").hidden = names.length > 0;
}

/** Opens the form: empty, or for `profile` (a ProfileView from the state). */
function openForm(profile) {
  editing = profile || null;
  $("profile-form-heading").textContent = profile ? `Edit profile ${profile.name}` : "New profile";
  $("profile-name").value = profile ? profile.name : "";
  $("profile-name").readOnly = !!profile;
  $("profile-own-key").checked = !!(profile && profile.ownKey);
  syncServerChoices(store.current(), profile ? profile.servers : []);
  showError($("profile-form-error"), null);
  $("profile-form").hidden = false;
  $("profile-new").hidden = true;
  (profile ? $("profile-servers").querySelector("input") || $("profile-own-key") : $("profile-name")).focus();
}

function closeForm() {
  editing = null;
  $("profile-form").hidden = true;
  $("profile-new").hidden = false;
}

$("profile-new").addEventListener("click", () => openForm(null));
$("profile-cancel").addEventListener("click", () => {
  closeForm();
  $("profile-new").focus();
});

$("profile-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("profile-name").value.trim();
  // In the state's order of servers, which is the config's.
  const picked = [...$("profile-servers").querySelectorAll("input:checked")].map((input) => input.value);
  const problem = profileProblem(name, picked);
  showError($("profile-form-error"), problem);
  if (problem) return;
  const profile = profileFromForm(editing && editing.config, picked, $("profile-own-key").checked);
  $("profile-save").disabled = true;
  try {
    await invoke("save_profile", { name, profile });
    closeForm();
    $("profile-new").focus();
  } catch (error) {
    showError($("profile-form-error"), error);
  } finally {
    $("profile-save").disabled = false;
  }
});

onViewChange((name) => {
  if (name !== "settings" && name !== "tools") closeForm();
});
