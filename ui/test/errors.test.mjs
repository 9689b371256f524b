import { test } from "node:test";
import assert from "node:assert/strict";
import { errorText } from "../js/errors.js";

test("the backend's message is shown for a validation error", () => {
  const message = "/home/me/.config/switchboard/config.json: server 'a b' must be 1 to 64 characters";
  assert.equal(errorText({ code: "invalid", message }), message);
  assert.equal(errorText({ code: "unknown_server", message: "no server named 'x'" }), "no server named 'x'");
});

test("a friendly sentence says what to do, with the backend's words after it", () => {
  assert.equal(
    errorText({ code: "port_in_use", message: "cannot listen on 127.0.0.1:8080" }),
    "Another program is using that port. Choose another one. (cannot listen on 127.0.0.1:8080)",
  );
  assert.equal(
    errorText({ code: "starting", message: "" }),
    "The proxy is still starting. Try again in a moment.",
  );
});

test("the acknowledgement error shows only the instruction", () => {
  assert.equal(
    errorText({ code: "needs_acknowledgement", message: "query-parameter auth sends the secret in the URL" }),
    "Tick “I understand” to save a key that is sent in the URL.",
  );
});

test("anything else thrown is shown as text", () => {
  assert.equal(errorText("command get_state not found"), "command get_state not found");
  assert.equal(errorText(new Error("boom")), "boom");
  assert.equal(errorText(null), "null");
  assert.equal(errorText({ code: "failed" }), "[object Object]");
});
