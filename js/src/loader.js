// Loading the page wasm (docs/browser-runtime.md): wasm_exec.js through a
// script element, then p2p-engine.wasm, run once per page; its API appears as
// globalThis.__p2pmedia.

/**
 * @typedef {object} WasmEngine
 * @property {(port: MessagePort) => void} servePort
 * @property {() => void} enableP2P
 * @property {() => void} disableP2P
 * @property {() => void} restartP2P
 * @property {(url: string) => void} prepare
 * @property {() => void} destroy
 * @property {() => string} peerId
 * @property {() => {totalHTTPDownloaded: number, totalP2PDownloaded: number, totalP2PUploaded: number, p2pDownloadSpeed: number}} stats
 *
 * @typedef {object} P2PMediaWasm
 * @property {string} version
 * @property {number} protocolVersion
 * @property {(cfg: import('./options.js').WasmConfig, emit: (event: string, payload: any) => void) => WasmEngine} newEngine
 */

/** How long the Go program may take to define globalThis.__p2pmedia. */
const API_TIMEOUT_MS = 5000;

/**
 * The load in progress or done: one Go program serves every engine of the
 * page. Reset after a failure so that a later start-up can try again.
 * @type {Promise<P2PMediaWasm> | null}
 */
let loading = null;

/**
 * Loads and starts the page wasm from base (a directory URL ending in "/")
 * unless it already runs, and resolves to its API.
 * @param {string} base
 * @param {string} [nonce] CSP nonce for the wasm_exec.js script element
 * @returns {Promise<P2PMediaWasm>}
 */
export function loadWasm(base, nonce) {
  const api = currentApi();
  if (api) return Promise.resolve(api);
  if (!loading) {
    loading = load(base, nonce);
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** @returns {P2PMediaWasm | null} */
function currentApi() {
  const api = /** @type {any} */ (globalThis).__p2pmedia;
  return api && typeof api.newEngine === 'function' ? api : null;
}

/**
 * @param {string} base
 * @param {string} [nonce]
 * @returns {Promise<P2PMediaWasm>}
 */
async function load(base, nonce) {
  const g = /** @type {any} */ (globalThis);
  if (typeof g.Go !== 'function') await loadScript(base + 'wasm_exec.js', nonce);
  if (typeof g.Go !== 'function') throw new Error(`${base}wasm_exec.js did not define Go`);
  const go = new g.Go();
  const url = base + 'p2p-engine.wasm';
  const instance = await instantiate(url, go.importObject);
  let exited = false;
  /** @type {unknown} */
  let exitErr;
  Promise.resolve(go.run(instance)).then(
    () => {
      exited = true;
    },
    (/** @type {unknown} */ err) => {
      exited = true;
      exitErr = err;
    },
  );
  const deadline = Date.now() + API_TIMEOUT_MS;
  for (;;) {
    const api = currentApi();
    if (api) return api;
    if (exited) throw new Error(`${url} exited before defining __p2pmedia` + (exitErr ? `: ${exitErr}` : ''));
    if (Date.now() > deadline) throw new Error(`${url} did not define __p2pmedia within ${API_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Compiles and instantiates the wasm at url, streaming when the browser can
 * (it needs the application/wasm content type) and from an ArrayBuffer
 * otherwise.
 * @param {string} url
 * @param {WebAssembly.Imports} imports
 * @returns {Promise<WebAssembly.Instance>}
 */
async function instantiate(url, imports) {
  if (typeof WebAssembly.instantiateStreaming === 'function') {
    try {
      const res = await WebAssembly.instantiateStreaming(fetch(url), imports);
      return res.instance;
    } catch (_) {
      // Wrong content type, or a fetch error: the fetch below says which.
    }
  }
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`fetch ${url}: HTTP ${resp.status}`);
  const res = await WebAssembly.instantiate(await resp.arrayBuffer(), imports);
  return res.instance;
}

/**
 * Adds a classic script element for src and resolves when it has run.
 * @param {string} src
 * @param {string} [nonce]
 * @returns {Promise<void>}
 */
function loadScript(src, nonce) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.async = true;
    if (nonce) s.nonce = nonce;
    s.onload = () => {
      s.remove();
      resolve();
    };
    s.onerror = () => {
      s.remove();
      reject(new Error(`failed to load ${src}`));
    };
    (document.head || document.documentElement).appendChild(s);
  });
}
