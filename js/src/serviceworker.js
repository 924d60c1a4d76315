// Service worker registration and control (docs/browser-runtime.md).

/** How long registration may take before the engine gives up on it. */
export const REGISTER_TIMEOUT_MS = 10000;

/**
 * How long to wait, after registration, for the service worker to control the
 * page (p2p-sw.js calls clients.claim() when it activates).
 */
export const CONTROL_TIMEOUT_MS = 3000;

/**
 * How long the page waits for the service worker to confirm a port before it
 * goes on without the confirmation (a p2p-sw.js of an older release sends
 * none).
 */
export const PORT_ACK_TIMEOUT_MS = 2000;

/**
 * The service worker controlling the page if it runs scriptUrl, else null.
 * Another site worker in control cannot serve proxied URLs.
 * @param {string} scriptUrl absolute URL of swFile
 * @returns {ServiceWorker | null}
 */
export function ourController(scriptUrl) {
  const c = navigator.serviceWorker.controller;
  return c && c.scriptURL === scriptUrl ? c : null;
}

/**
 * Registers the service worker; rejects after timeoutMs.
 * @param {string} scriptUrl
 * @param {string} scopeUrl
 * @param {number} [timeoutMs]
 * @returns {Promise<ServiceWorkerRegistration>}
 */
export function register(scriptUrl, scopeUrl, timeoutMs = REGISTER_TIMEOUT_MS) {
  return withTimeout(
    navigator.serviceWorker.register(scriptUrl, { scope: scopeUrl }),
    timeoutMs,
    `registering ${scriptUrl} took longer than ${timeoutMs} ms`,
  );
}

/**
 * Resolves true as soon as the service worker at scriptUrl controls the page,
 * false after timeoutMs.
 * @param {string} scriptUrl
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
export function waitForControl(scriptUrl, timeoutMs = CONTROL_TIMEOUT_MS) {
  if (ourController(scriptUrl)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sw = navigator.serviceWorker;
    const done = (/** @type {boolean} */ ok) => {
      clearTimeout(timer);
      sw.removeEventListener('controllerchange', onChange);
      resolve(ok);
    };
    const onChange = () => {
      if (ourController(scriptUrl)) done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sw.addEventListener('controllerchange', onChange);
  });
}

/**
 * Resolves true when the service worker confirms that it filed the port sent
 * with {type: 'p2pmedia-port', id} (p2p-sw.js answers the page with
 * {type: 'p2pmedia-port-ack', id, ok}, ok false when its wasm did not start),
 * false after timeoutMs. Call it before posting the port.
 * @param {number} id
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
export function portAck(id, timeoutMs = PORT_ACK_TIMEOUT_MS) {
  return workerReply('p2pmedia-port-ack', id, timeoutMs).then((d) => d !== null && d.ok === true);
}

/**
 * Resolves true when the service worker confirms that it registered the
 * origins sent with {type: 'p2pmedia-hosts', id, hosts} (p2p-sw.js answers
 * {type: 'p2pmedia-hosts-ack', id}: it serves proxied media of registered
 * origins only), false after timeoutMs. Call it before posting the message.
 * @param {number} id
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
export function hostsAck(id, timeoutMs = PORT_ACK_TIMEOUT_MS) {
  return workerReply('p2pmedia-hosts-ack', id, timeoutMs).then((d) => d !== null);
}

/**
 * Resolves with the data of the service worker's first message of the given
 * type and id, null after timeoutMs.
 * @param {string} type
 * @param {number} id
 * @param {number} timeoutMs
 * @returns {Promise<any>}
 */
function workerReply(type, id, timeoutMs) {
  return new Promise((resolve) => {
    const sw = navigator.serviceWorker;
    const done = (/** @type {any} */ d) => {
      clearTimeout(timer);
      sw.removeEventListener('message', onMessage);
      resolve(d);
    };
    const onMessage = (/** @type {MessageEvent} */ e) => {
      const d = e.data;
      if (d && d.type === type && d.id === id) done(d);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sw.addEventListener('message', onMessage);
    // Messages from the worker wait in a queue until DOMContentLoaded
    // unless the page starts them.
    if (typeof sw.startMessages === 'function') sw.startMessages();
  });
}

/**
 * Rejects with an Error(message) when p has not settled after ms.
 * @template T
 * @param {Promise<T>} p
 * @param {number} ms
 * @param {string} message
 * @returns {Promise<T>}
 */
export function withTimeout(p, ms, message) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
