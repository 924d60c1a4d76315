// Service worker registration and control (docs/browser-runtime.md).

/** How long registration may take before the engine gives up on it. */
export const REGISTER_TIMEOUT_MS = 10000;

/**
 * How long to wait, after registration, for the service worker to control the
 * page (p2p-sw.js calls clients.claim() when it activates).
 */
export const CONTROL_TIMEOUT_MS = 3000;

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
