import { test } from "node:test";
import assert from "node:assert/strict";
import { createStore } from "../js/store.js";

test("the fetched state is applied and listeners get it", () => {
  const store = createStore();
  const seen = [];
  store.subscribe((state) => seen.push(state.port));
  assert.equal(store.current(), null);
  assert.equal(store.fetching()({ port: 1 }), true);
  assert.deepEqual(store.current(), { port: 1 });
  assert.deepEqual(seen, [1]);
});

test("every event replaces the state", () => {
  const store = createStore();
  const seen = [];
  store.subscribe((state) => seen.push(state.port));
  store.received({ port: 1 });
  store.received({ port: 2 });
  assert.deepEqual(store.current(), { port: 2 });
  assert.deepEqual(seen, [1, 2]);
});

test("a fetched answer that arrives after an event does not overwrite it", () => {
  const store = createStore();
  const apply = store.fetching();
  store.received({ port: 2 });
  assert.equal(apply({ port: 1 }), false);
  assert.deepEqual(store.current(), { port: 2 });
  // A fetch started after the event applies again.
  assert.equal(store.fetching()({ port: 3 }), true);
  assert.deepEqual(store.current(), { port: 3 });
});

test("an unsubscribed listener hears nothing more", () => {
  const store = createStore();
  const seen = [];
  const unsubscribe = store.subscribe((state) => seen.push(state.port));
  store.received({ port: 1 });
  unsubscribe();
  store.received({ port: 2 });
  assert.deepEqual(seen, [1]);
});
