// Talks to Rust over Tauri IPC only; no network fetches (see the CSP in tauri.conf.json).
"use strict";

const RETRY_MS = 500;

function $(id) {
  return document.getElementById(id);
}

function setState(text, kind) {
  const pill = $("state");
  pill.textContent = text;
  pill.className = `pill pill-${kind}`;
}

function showEndpoints(info) {
  $("problem").hidden = true;
  $("proxy").hidden = false;
  $("listening").textContent = info.listening;
  const list = $("endpoints");
  const template = $("endpoint");
  list.replaceChildren(
    ...info.endpoints.map((endpoint) => {
      const item = template.content.cloneNode(true);
      item.querySelector(".server").textContent = endpoint.server;
      item.querySelector(".mcp-url").textContent = endpoint.mcpUrl;
      item.querySelector(".sse-url").textContent = endpoint.sseUrl;
      return item;
    }),
  );
  $("no-servers").hidden = info.endpoints.length > 0;
  setState("Running", "ok");
}

function showProblem(message) {
  $("proxy").hidden = true;
  $("problem").hidden = false;
  $("problem-message").textContent = message;
  setState("Not running", "error");
}

async function refresh() {
  try {
    showEndpoints(await window.__TAURI__.core.invoke("proxy_info"));
  } catch (error) {
    // Errors are { code, message }; "starting" clears up by itself.
    if (error && error.code === "starting") {
      setTimeout(refresh, RETRY_MS);
    } else {
      showProblem(error && error.message ? error.message : String(error));
    }
  }
}

document.addEventListener("DOMContentLoaded", refresh);
