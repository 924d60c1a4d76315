// P2PEngineMedia: the public API of the engine in the page. It validates the
// options, registers the service worker, loads the page wasm, connects the two
// over a MessagePort and passes the wasm's events on (docs/browser-runtime.md).
// Everything else happens in the wasm.

import { VERSION, PROTOCOL_VERSION } from './version.js';
import { Emitter } from './emitter.js';
import { dispatch, exceptionPayload } from './events.js';
import { LOG_LEVELS, normalizeOptions, toWasmConfig, isMobileDevice } from './options.js';
import { proxyBase, proxiedUrl, isProxied, assetBase } from './url.js';
import { isSupported, isWebRTCSupported, isServiceWorkerSupported } from './support.js';
import { loadWasm } from './loader.js';
import { register, waitForControl, ourController, withTimeout, portAck, hostsAck } from './serviceworker.js';

/**
 * @typedef {import('./options.js').Options} Options
 * @typedef {import('./loader.js').WasmEngine} WasmEngine
 */

/**
 * How long getProxiedUrl waits for start-up (registration, control, wasm)
 * before it gives the original URL.
 */
const START_WAIT_MS = 10000;

/** The prefix of the shim's console messages. */
const PREFIX = '[p2pmedia]';

/**
 * The shim's own script element, read while the script runs: a classic
 * script's document.currentScript, or an element whose src names the shim.
 * @type {{src: string, nonce: string}}
 */
const SCRIPT = ownScript();

/**
 * The shim's own URL: import.meta.url in the ES module (build.mjs defines it
 * as undefined in the classic script), else the script element's src.
 * @type {string}
 */
const SCRIPT_URL = import.meta.url || SCRIPT.src;

let sloganShown = false;

/** The id of the next port message of the page (its engines share the worker). */
let nextPortId = 1;

/**
 * The P2P media engine of a page. Create one per page (or per player), then
 * give the player `await engine.getProxiedUrl(url)` instead of url.
 */
export class P2PEngineMedia {
  /**
   * @param {object} [p2pConfig] options; see types/index.d.ts for each one
   * @throws {TypeError | RangeError} for a bad option value, naming the option
   */
  constructor(p2pConfig) {
    const { options, unknown } = normalizeOptions(p2pConfig);
    /** @type {Options} */
    this._opts = options;
    this._log = logger(options.logLevel);
    this._emitter = new Emitter((err) => reportError(err));
    this._p2pEnabled = options.p2pEnabled;
    this._destroyed = false;
    /** @type {WasmEngine | null} */
    this._engine = null;
    /** @type {MessagePort[]} ports handed to the engine, closed by destroy */
    this._ports = [];
    /** whether a start-up is running */
    this._running = false;
    /** @type {Promise<boolean> | null} the last start-up; never rejects */
    this._startup = null;
    /** @type {(() => void) | null} */
    this._onControllerChange = null;
    /** @type {((e: MessageEvent) => void) | null} */
    this._onWorkerMessage = null;
    this._swUrl = '';
    this._proxyBase = '';
    /** @type {Map<string, Promise<boolean>>} origins sent to the service worker, and whether it registered them */
    this._registered = new Map();

    if (unknown.length > 0 && options.logLevel !== 'none') {
      console.warn(`P2PEngineMedia: unknown option${unknown.length > 1 ? 's' : ''} ignored: ${unknown.join(', ')}`);
    }
    if (options.showSlogan && !sloganShown) {
      sloganShown = true;
      console.info(`${PREFIX} P2P media delivery v${VERSION}: viewers share what they watch over WebRTC`);
    }
    if (this._p2pEnabled && isSupported()) this._start();
  }

  /**
   * The URL to give the player for url: the proxied URL when P2P runs, else
   * url itself (unsupported browser, P2P disabled, service worker not in
   * control, wasm not loaded, destroyed, any error). Never rejects.
   * @param {string} url
   * @returns {Promise<string>}
   */
  async getProxiedUrl(url) {
    const original = typeof url === 'string' ? url : String(url);
    try {
      if (this._destroyed || !this._p2pEnabled || !isSupported()) return original;
      if (this._running && this._startup) {
        await withTimeout(this._startup, START_WAIT_MS, 'start-up').catch(() => false);
      }
      if (this._destroyed || !this._p2pEnabled || !this._engine || this._ports.length === 0) return original;
      if (!ourController(this._swUrl)) return original;
      const proxied = proxiedUrl(original, this._proxyBase, location.href);
      if (!proxied) return original;
      const u = new URL(original, location.href);
      // The service worker serves media of registered origins only.
      if (!(await this._register([u.origin]))) {
        this._log.warn(`the service worker did not register ${u.origin}; its media comes from the origin`);
        return original;
      }
      if (this._destroyed || !this._engine) return original;
      // The engine looks for peers of it before the player asks.
      u.hash = '';
      if (!isProxied(u.pathname)) {
        try {
          this._engine.prepare(u.href);
        } catch (err) {
          this._log.error('prepare:', err);
        }
      }
      return proxied;
    } catch (_) {
      return original;
    }
  }

  /** Resumes P2P after disableP2P (or starts it when p2pEnabled was false). */
  enableP2P() {
    if (this._destroyed) return;
    this._p2pEnabled = true;
    if (this._engine) this._call('enableP2P');
    else if (isSupported()) this._start();
  }

  /**
   * Stops P2P and frees its resources: no more peers or trackers. Media
   * already playing through the engine goes on over HTTP; getProxiedUrl
   * gives original URLs until enableP2P.
   */
  disableP2P() {
    if (this._destroyed) return;
    this._p2pEnabled = false;
    if (this._engine) this._call('disableP2P');
  }

  /**
   * Restarts P2P: reconnects to the trackers and renews the peers, and
   * resumes P2P after disableP2P. When
   * start-up failed (e.g. the service worker did not take control in time),
   * tries it again.
   */
  restartP2p() {
    if (this._destroyed) return;
    this._p2pEnabled = true;
    if (this._engine) this._call('restartP2P');
    else if (this._p2pEnabled && isSupported()) this._start();
  }

  /** Same as restartP2p. */
  restartP2P() {
    this.restartP2p();
  }

  /**
   * Stops everything: peers, tracker connections, the ports to the service
   * worker, the listeners. The instance is unusable afterwards; the service
   * worker stays registered and falls back to HTTP for this page.
   */
  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    const engine = this._engine;
    this._engine = null;
    if (engine) {
      try {
        engine.destroy();
      } catch (err) {
        this._log.error('destroy:', err);
      }
    }
    for (const port of this._ports) {
      // The worker hears no close event: it is told, and falls back to
      // the origin at once for this page's requests.
      try {
        port.postMessage({ op: 'close' });
      } catch (_) {}
      port.close();
    }
    this._ports = [];
    if (this._onControllerChange) {
      navigator.serviceWorker.removeEventListener('controllerchange', this._onControllerChange);
      this._onControllerChange = null;
    }
    if (this._onWorkerMessage) {
      navigator.serviceWorker.removeEventListener('message', this._onWorkerMessage);
      this._onWorkerMessage = null;
    }
    this._emitter.removeAll();
  }

  /**
   * Adds a listener for event.
   * @param {string} event
   * @param {(...args: any[]) => void} listener
   * @returns {this}
   */
  on(event, listener) {
    this._emitter.on(event, listener);
    return this;
  }

  /**
   * Adds a listener for event, called once.
   * @param {string} event
   * @param {(...args: any[]) => void} listener
   * @returns {this}
   */
  once(event, listener) {
    this._emitter.once(event, listener);
    return this;
  }

  /**
   * Removes listener from event; without listener, every listener of event.
   * @param {string} event
   * @param {(...args: any[]) => void} [listener]
   * @returns {this}
   */
  off(event, listener) {
    this._emitter.off(event, listener);
    return this;
  }

  /**
   * Whether P2P delivery can run in this browser.
   * @returns {boolean}
   */
  static isSupported() {
    return isSupported();
  }

  /**
   * Whether the browser has WebRTC data channels.
   * @returns {boolean}
   */
  static isWebRTCSupported() {
    return isWebRTCSupported();
  }

  /**
   * Whether the page can register a service worker (the established spelling).
   * @returns {boolean}
   */
  static isSeviceWorkerSupported() {
    return isServiceWorkerSupported();
  }

  /**
   * Whether the page can register a service worker.
   * @returns {boolean}
   */
  static isServiceWorkerSupported() {
    return isServiceWorkerSupported();
  }

  /** Starts start-up unless it runs, succeeded, or the engine is destroyed. */
  _start() {
    if (this._running || this._engine || this._destroyed) return;
    this._running = true;
    this._startup = this._startUp()
      .catch((err) => {
        this._exception('WASM_EXPT', err);
        return false;
      })
      .then((ok) => {
        this._running = false;
        return ok;
      });
  }

  /**
   * Registers the service worker and loads the wasm at the same time, then
   * creates the engine and hands a port to the service worker in control.
   * @returns {Promise<boolean>} whether the engine runs
   */
  async _startUp() {
    const o = this._opts;
    const loc = location.href;
    this._swUrl = new URL(o.swFile, loc).href;
    this._proxyBase = proxyBase(o.swScope, loc);
    const scopeUrl = new URL(o.swScope, loc).href;
    this._listenForController();

    const base = assetBase(o.wasmBaseUrl, SCRIPT_URL, loc);
    const wasm = loadWasm(base, SCRIPT.nonce);
    wasm.catch(() => {}); // handled below; start-up may end before
    this._log.debug(`start-up: service worker ${this._swUrl}, scope ${scopeUrl}, wasm from ${base}`);

    if (ourController(this._swUrl)) {
      // Already in control; registering again lets the browser check for updates.
      register(this._swUrl, scopeUrl).catch((err) => this._log.warn('service worker update check:', err));
    } else {
      try {
        await register(this._swUrl, scopeUrl);
      } catch (err) {
        this._exception('SW_EXPT', err);
        return false;
      }
      if (this._destroyed) return false;
      if (!(await waitForControl(this._swUrl))) {
        this._log.warn(`service worker ${this._swUrl} does not control the page; media goes over HTTP until it does`);
        return false;
      }
    }
    if (this._destroyed) return false;

    let api;
    try {
      api = await wasm;
    } catch (err) {
      this._exception('WASM_EXPT', err);
      return false;
    }
    if (this._destroyed) return false;
    if (api.version !== VERSION) {
      this._log.warn(`p2p-engine.wasm is version ${api.version}, the shim ${VERSION}: deploy the files of one release together`);
    }
    if (api.protocolVersion !== PROTOCOL_VERSION) {
      this._log.warn(`p2p-engine.wasm speaks protocol ${api.protocolVersion}, the shim ${PROTOCOL_VERSION}`);
    }
    const cfg = toWasmConfig(o, {
      mobile: isMobileDevice(navigator),
      mediaElem: this._mediaElement(),
      p2pEnabled: this._p2pEnabled,
      report: (err) => this._log.error('channelId:', err),
    });
    try {
      const engine = api.newEngine(cfg, (event, payload) => this._emit(event, payload));
      // A Go callback cannot throw into JS: a bad config comes back as an Error.
      if (engine instanceof Error) throw engine;
      this._engine = engine;
    } catch (err) {
      this._exception('WASM_EXPT', err);
      return false;
    }
    const acked = this._sendPort();
    if (!acked) return false;
    const allowed = this._register(o.allowedHosts);
    // Proxied URLs go out only once the service worker holds the port: the
    // player's first fetch could otherwise reach it before the port and be
    // sent to the origin whole.
    if (!(await acked)) this._log.warn('the service worker did not confirm the port; proxied media may come from the origin');
    if (!(await allowed)) this._log.warn('the service worker did not register allowedHosts');
    this._log.debug('started');
    return true;
  }

  /**
   * Hands a new port to the service worker in control, if it is ours.
   * @returns {Promise<boolean> | null} null when no port was sent, else
   *   whether the service worker confirmed it (portAck)
   */
  _sendPort() {
    const controller = ourController(this._swUrl);
    if (!controller || !this._engine || this._destroyed) return null;
    const channel = new MessageChannel();
    const id = nextPortId++;
    let acked;
    try {
      this._engine.servePort(channel.port1);
      acked = portAck(id);
      controller.postMessage({ type: 'p2pmedia-port', version: VERSION, id }, [channel.port2]);
    } catch (err) {
      channel.port1.close();
      this._exception('SW_EXPT', err);
      return null;
    }
    this._ports.push(channel.port1);
    this._log.debug('port sent to', controller.scriptURL);
    return acked;
  }

  /**
   * Registers origins (or hosts) with the service worker in control, which
   * serves proxied media of registered origins only (docs/browser-runtime.md,
   * "What the service worker serves"); each is sent once per controller.
   * @param {string[]} origins
   * @returns {Promise<boolean>} whether the service worker registered them all
   */
  _register(origins) {
    const controller = ourController(this._swUrl);
    if (!controller) return Promise.resolve(false);
    const missing = origins.filter((o) => !this._registered.has(o));
    if (missing.length > 0) {
      const id = nextPortId++;
      const acked = hostsAck(id);
      try {
        controller.postMessage({ type: 'p2pmedia-hosts', id, hosts: missing });
      } catch (err) {
        this._exception('SW_EXPT', err);
        return Promise.resolve(false);
      }
      for (const o of missing) this._registered.set(o, acked);
      acked.then((ok) => {
        if (ok) return;
        for (const o of missing) if (this._registered.get(o) === acked) this._registered.delete(o);
      });
    }
    return Promise.all(origins.map((o) => this._registered.get(o))).then((oks) => oks.every(Boolean));
  }

  /**
   * On every change of controller: a fresh port for the new service worker,
   * or, when start-up gave up waiting for control, a new start-up.
   */
  _listenForController() {
    if (this._onControllerChange) return;
    this._onControllerChange = () => {
      if (this._destroyed) return;
      this._registered.clear();
      if (this._engine) this._sendPort();
      else if (this._p2pEnabled && ourController(this._swUrl)) this._start();
    };
    navigator.serviceWorker.addEventListener('controllerchange', this._onControllerChange);
    // A service worker that the browser stopped and started again has lost
    // the port: it asks for a new one.
    this._onWorkerMessage = (/** @type {MessageEvent} */ e) => {
      const d = e.data;
      if (d && d.type === 'p2pmedia-port-request' && this._engine && !this._destroyed) this._sendPort();
    };
    navigator.serviceWorker.addEventListener('message', this._onWorkerMessage);
  }

  /**
   * The media element the engine watches: mediaElem (an element or its id),
   * else the page's first video or audio element, else null.
   * @returns {HTMLMediaElement | null}
   */
  _mediaElement() {
    const m = this._opts.mediaElem;
    if (typeof m === 'string') {
      const el = document.getElementById(m);
      if (el && /^(video|audio)$/i.test(el.tagName)) return /** @type {HTMLMediaElement} */ (el);
      this._log.warn(`mediaElem: no <video> or <audio> element with id ${JSON.stringify(m)}`);
      return null;
    }
    if (m) return /** @type {HTMLMediaElement} */ (m);
    return document.querySelector('video, audio');
  }

  /**
   * Calls a method of the wasm engine; errors are logged, not thrown.
   * @param {'enableP2P' | 'disableP2P' | 'restartP2P'} method
   */
  _call(method) {
    try {
      if (this._engine) this._engine[method]();
    } catch (err) {
      this._log.error(`${method}:`, err);
    }
  }

  /**
   * Queues an event for the listeners and callbacks. Delivery is
   * asynchronous so that the wasm's call returns at once, whatever the
   * listeners do.
   * @param {string} event
   * @param {any} payload
   */
  _emit(event, payload) {
    if (this._destroyed) return;
    Promise.resolve().then(() => {
      if (this._destroyed) return;
      dispatch(this._emitter, this._opts, event, payload, reportError);
    });
  }

  /**
   * Logs err and emits it as an exception event with code.
   * @param {string} code
   * @param {unknown} err
   */
  _exception(code, err) {
    const payload = exceptionPayload(code, err);
    this._log.error(`${code}: ${payload.message}`);
    this._emit('exception', payload);
  }
}

Object.defineProperty(P2PEngineMedia, 'version', { value: VERSION, enumerable: true });
Object.defineProperty(P2PEngineMedia, 'protocolVersion', { value: PROTOCOL_VERSION, enumerable: true });

export default P2PEngineMedia;

/**
 * Console logging gated by the logLevel option.
 * @param {import('./options.js').LogLevel} level
 */
function logger(level) {
  const rank = LOG_LEVELS.indexOf(level);
  return {
    /** @param {...any} args */
    debug: (...args) => {
      if (rank <= 0) console.debug(PREFIX, ...args);
    },
    /** @param {...any} args */
    warn: (...args) => {
      if (rank <= 1) console.warn(PREFIX, ...args);
    },
    /** @param {...any} args */
    error: (...args) => {
      if (rank <= 2) console.error(PREFIX, ...args);
    },
  };
}

/**
 * Reports an error thrown by a site's listener or callback the way the
 * browser reports uncaught errors, without breaking the engine.
 * @param {unknown} err
 */
function reportError(err) {
  const g = /** @type {any} */ (globalThis);
  if (typeof g.reportError === 'function') g.reportError(err);
  else console.error(err);
}

/**
 * The src and nonce of the shim's script element, if it can be found.
 * @returns {{src: string, nonce: string}}
 */
function ownScript() {
  if (typeof document === 'undefined') return { src: '', nonce: '' };
  /** @type {HTMLScriptElement | null} */
  let s = /** @type {HTMLScriptElement | null} */ (document.currentScript);
  if (!s || !s.src) s = document.querySelector('script[src*="p2p-engine"]');
  return s ? { src: s.src, nonce: s.nonce || '' } : { src: '', nonce: '' };
}
