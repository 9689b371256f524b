import { test } from "node:test";
import assert from "node:assert/strict";
import { parseOrigins, portProblem } from "../js/settings-form.js";

test("ports from 1024 to 65535 pass", () => {
  for (const text of ["1024", "8080", " 65535 "]) assert.equal(portProblem(text), null, text);
});

test("anything else is refused before it is sent", () => {
  for (const text of ["", "80", "1023", "65536", "80.5", "-1", "8080x", "1e4"]) {
    assert.equal(portProblem(text), "Enter a whole number from 1024 to 65535.", text);
  }
});

test("origins are one per line or comma separated, blanks dropped", () => {
  assert.deepEqual(parseOrigins(" https://a.example.com \n\nhttps://b.example.com, http://127.0.0.1:9000,"), [
    "https://a.example.com",
    "https://b.example.com",
    "http://127.0.0.1:9000",
  ]);
  assert.deepEqual(parseOrigins("  \n "), []);
});
