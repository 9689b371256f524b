// A write-only secret: its keychain name, "set"/"not set", a password box whose value goes
// to `set_secret` and is then cleared, and Replace / Remove. Nothing ever reads a secret
// value back into the page (the backend offers no way to).
import { $, labelFor, showError } from "./dom.js";
import { invoke } from "./ipc.js";

export function secretWidget(labelText, defaultName) {
  const el = $("secret-widget").content.firstElementChild.cloneNode(true);
  const nameInput = el.querySelector(".secret-name");
  const valueInput = el.querySelector(".secret-value");
  const status = el.querySelector(".secret-status");
  const replace = el.querySelector(".secret-replace");
  const remove = el.querySelector(".secret-remove");
  const entry = el.querySelector(".secret-entry");
  const setButton = el.querySelector(".secret-set");
  const errorEl = el.querySelector(".secret-error");
  labelFor(el.querySelector(".secret-name-label"), nameInput, "secret-name");
  labelFor(el.querySelector(".secret-value-label"), valueInput, "secret-value");
  el.querySelector(".secret-value-label").textContent = `${labelText}: new value`;
  el.querySelector(".secret-name-label").textContent = `${labelText}: name in the keychain`;
  nameInput.value = defaultName || "";
  let isSet = false;
  let touched = false;
  nameInput.addEventListener("input", () => {
    touched = true;
  });

  function show() {
    status.textContent = isSet ? "set" : "not set";
    status.className = `secret-status ${isSet ? "is-set" : "not-set"}`;
    replace.hidden = !isSet || !entry.hidden;
    remove.hidden = !isSet;
    setButton.textContent = isSet ? "Replace in keychain" : "Store in keychain";
  }

  async function refreshStatus() {
    const name = nameInput.value.trim();
    if (!name) {
      isSet = false;
      entry.hidden = false;
      show();
      return;
    }
    try {
      const answer = await invoke("secret_status", { names: [name] });
      isSet = !!(answer && answer[name]);
      entry.hidden = isSet;
      show();
      showError(errorEl, null);
    } catch (error) {
      showError(errorEl, error);
    }
  }

  async function commit() {
    const name = nameInput.value.trim();
    const value = valueInput.value;
    // Cleared before anything else can happen: the value never stays in the page.
    valueInput.value = "";
    if (!value) return true;
    if (!name) {
      showError(errorEl, "Give the secret a name first.");
      return false;
    }
    try {
      await invoke("set_secret", { name, value });
      showError(errorEl, null);
      await refreshStatus();
      return true;
    } catch (error) {
      showError(errorEl, error);
      return false;
    }
  }

  replace.addEventListener("click", () => {
    entry.hidden = false;
    show();
    valueInput.focus();
  });
  remove.addEventListener("click", async () => {
    try {
      await invoke("delete_secret", { name: nameInput.value.trim() });
      await refreshStatus();
    } catch (error) {
      showError(errorEl, error);
    }
  });
  setButton.addEventListener("click", async () => {
    if (!valueInput.value) {
      showError(errorEl, "Type the value first.");
      valueInput.focus();
      return;
    }
    await commit();
  });
  valueInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      setButton.click();
    }
  });
  nameInput.addEventListener("change", refreshStatus);
  refreshStatus();
  return {
    el,
    setLabel(text) {
      el.querySelector(".secret-value-label").textContent = `${text}: new value`;
      el.querySelector(".secret-name-label").textContent = `${text}: name in the keychain`;
    },
    name: () => nameInput.value.trim(),
    // A better default once the server has a name, unless the user chose one.
    suggest(name) {
      if (!touched && nameInput.value !== name) {
        nameInput.value = name;
        refreshStatus();
      }
    },
    setName(name) {
      nameInput.value = name;
      refreshStatus();
    },
    commit,
  };
}
