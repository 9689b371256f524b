// The window's copy of the Hub's state. It is fetched once when the page loads
// (`get_state`) and from then on replaced by the payload of every `state-changed` event,
// which the shell sends after each change (src-tauri/src/lib.rs, `publish_changes`): the
// window never polls. Pure: no DOM, unit-tested in ui/test/.

export function createStore() {
  let state = null;
  let events = 0;
  const listeners = new Set();

  function set(next) {
    state = next;
    for (const listener of listeners) listener(state);
  }

  return {
    /** The newest state, or null before the first one arrived. */
    current: () => state,

    /** Calls `listener(state)` on every new state; returns the unsubscribe function. */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /** A `state-changed` payload: the newest state there is. */
    received(next) {
      events += 1;
      set(next);
    },

    /**
     * Call before asking `get_state`; returns the function that applies its answer. An answer
     * is dropped if an event arrived while it was on its way: the event may be the newer one.
     * The applier returns whether it applied the answer.
     */
    fetching() {
      const before = events;
      return (next) => {
        if (events !== before) return false;
        set(next);
        return true;
      };
    },
  };
}

/** The one store of the window. */
export const store = createStore();
