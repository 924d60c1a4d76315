// A tiny event emitter: on, once, off, emit.

/**
 * @typedef {(...args: any[]) => void} Listener
 * @typedef {{fn: Listener, once: boolean}} Entry
 */

/**
 * Emitter keeps listeners per event name and calls them in the order they
 * were added. A listener that throws does not stop the others: its error goes
 * to the report function given to the constructor.
 */
export class Emitter {
  /**
   * @param {(err: unknown) => void} [report] receives errors thrown by listeners
   */
  constructor(report) {
    /** @type {Map<string, Entry[]>} */
    this._events = new Map();
    this._report = report || defaultReport;
  }

  /**
   * Adds a listener for event.
   * @param {string} event
   * @param {Listener} fn
   */
  on(event, fn) {
    this._add(event, fn, false);
  }

  /**
   * Adds a listener for event that is removed before its first call.
   * @param {string} event
   * @param {Listener} fn
   */
  once(event, fn) {
    this._add(event, fn, true);
  }

  /**
   * Removes the most recently added registration of fn for event (whether it
   * was added with on or once); without fn, removes every listener of event.
   * @param {string} event
   * @param {Listener} [fn]
   */
  off(event, fn) {
    const list = this._events.get(event);
    if (!list) return;
    if (fn === undefined) {
      this._events.delete(event);
      return;
    }
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].fn === fn) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this._events.delete(event);
  }

  /**
   * Calls every listener of event with args; reports whether there was any.
   * @param {string} event
   * @param {...any} args
   * @returns {boolean}
   */
  emit(event, ...args) {
    const list = this._events.get(event);
    if (!list) return false;
    for (const entry of list.slice()) {
      if (entry.once) this._removeEntry(event, entry);
      try {
        entry.fn(...args);
      } catch (err) {
        this._report(err);
      }
    }
    return true;
  }

  /**
   * Number of listeners of event.
   * @param {string} event
   * @returns {number}
   */
  listenerCount(event) {
    const list = this._events.get(event);
    return list ? list.length : 0;
  }

  /** Removes every listener of every event. */
  removeAll() {
    this._events.clear();
  }

  /**
   * @param {string} event
   * @param {Listener} fn
   * @param {boolean} once
   */
  _add(event, fn, once) {
    if (typeof event !== 'string') {
      throw new TypeError(`P2PEngineMedia: event name must be a string, got ${describe(event)}`);
    }
    if (typeof fn !== 'function') {
      throw new TypeError(`P2PEngineMedia: listener for "${event}" must be a function, got ${describe(fn)}`);
    }
    let list = this._events.get(event);
    if (!list) {
      list = [];
      this._events.set(event, list);
    }
    list.push({ fn, once });
  }

  /**
   * @param {string} event
   * @param {Entry} entry
   */
  _removeEntry(event, entry) {
    const list = this._events.get(event);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this._events.delete(event);
  }
}

/**
 * Reports an error thrown by user code without breaking the caller: to the
 * page's error handlers when the platform has reportError, else the console.
 * @param {unknown} err
 */
function defaultReport(err) {
  const g = /** @type {any} */ (globalThis);
  if (typeof g.reportError === 'function') g.reportError(err);
  else console.error(err);
}

/**
 * A short description of a value for error messages.
 * @param {unknown} v
 * @returns {string}
 */
export function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return 'an object';
  }
}
