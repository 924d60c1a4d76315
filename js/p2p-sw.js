/*
 * p2p-sw.js: the service-worker loader of p2pmedia (docs/browser-runtime.md).
 *
 * A site's sw.js is one line: importScripts('<dist>/p2p-sw.js'). This script
 * starts p2p-sw.wasm, the Go program that serves proxied media URLs from the
 * page's engine, and hands it the fetches of proxied URLs and the ports the
 * pages send. Other requests are left to the browser. Should the wasm fail to
 * load, proxied URLs are fetched from their origin in plain JS.
 *
 * Options, set on self before importScripts:
 *   P2P_MEDIA_BASE      where wasm_exec.js and p2p-sw.wasm are (default: the
 *                       directory of this script)
 *   P2P_MEDIA_TIMEOUTS  {open, piece} in milliseconds (default 2000, 8000)
 */
(() => {
  'use strict';

  const MARK = '/__p2pmedia__/';
  const proxy = self.MediaProxy = {version: '__VERSION__', wasmVersion: ''};

  // baseUrl is the directory of this script: the first URL of a stack trace
  // taken while it runs, else the service worker's own directory.
  function baseUrl() {
    if (self.P2P_MEDIA_BASE) return String(self.P2P_MEDIA_BASE).replace(/\/?$/, '/');
    const m = /(https?:\/\/\S+?):\d+:\d+/.exec(new Error().stack || '');
    if (m) return m[1].replace(/[?#].*$/, '').replace(/[^/]*$/, '');
    return new URL('./', self.location.href).href;
  }

  // originalUrl returns the URL a proxied URL stands for, or '' for any
  // other URL: <scope>__p2pmedia__/<http|https>/<host[:port]>[/path][?query].
  function originalUrl(url) {
    const u = new URL(url);
    const i = u.pathname.indexOf(MARK);
    if (i < 0) return '';
    const m = /^(https?)\/([^/@\\]+)(\/.*)?$/.exec(u.pathname.slice(i + MARK.length));
    return m ? m[1] + '://' + m[2] + (m[3] || '/') + u.search : '';
  }

  // viaOrigin fetches the original URL itself, keeping the Range header.
  async function viaOrigin(req, url) {
    const init = {method: req.method, headers: {}};
    const range = req.headers.get('range');
    if (range) init.headers.range = range;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      init.headers = req.headers;
      init.body = await req.arrayBuffer();
    }
    return fetch(url, init);
  }

  const base = baseUrl();
  importScripts(base + 'wasm_exec.js'); // defines Go

  // ready resolves with globalThis.__p2pmediaSW once the Go program runs.
  const ready = (async () => {
    const go = new Go();
    const url = base + 'p2p-sw.wasm';
    let result;
    try {
      result = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
    } catch (e) {
      // Served without Content-Type: application/wasm: compile from bytes.
      const resp = await fetch(url);
      if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
      result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
    }
    go.run(result.instance); // runs main until it waits for callbacks
    const sw = self.__p2pmediaSW;
    if (!sw) throw new Error('p2p-sw.wasm did not start');
    proxy.wasmVersion = sw.version;
    return sw;
  })();
  ready.catch(e => console.warn('p2pmedia: proxied media comes from the origin:', e));

  // Listeners are added during the first evaluation, as service workers
  // require.
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', e => e.waitUntil(self.clients.claim()));

  // A page sends its engine's port, then waits for the ack before it hands
  // out proxied URLs: its first proxied fetch could otherwise arrive before
  // the port, and go to the origin.
  // ported: the clients that gave this worker a port since it started.
  // A worker that the browser stopped and started again has lost the ports
  // it held: it asks a client it has none from for a new one.
  const ported = new Set();
  const askPort = client => {
    if (!client || ported.has(client)) return;
    ported.add(client); // asked once; the answer is a port message
    self.clients.get(client).then(c => c && c.postMessage({type: 'p2pmedia-port-request'})).catch(() => {});
  };
  self.addEventListener('message', e => {
    const d = e.data;
    if (!d || d.type !== 'p2pmedia-port' || !e.ports[0] || !e.source) return;
    ported.add(e.source.id);
    const ack = ok => e.source.postMessage({type: 'p2pmedia-port-ack', id: d.id, ok});
    e.waitUntil(ready.then(sw => {
      sw.addPort(e.source.id, e.ports[0]);
      ack(true);
    }, () => ack(false)).catch(() => {}));
  });

  self.addEventListener('fetch', e => {
    const req = e.request;
    const url = originalUrl(req.url);
    if (!url) return;
    const client = e.clientId || e.resultingClientId;
    askPort(client);
    e.respondWith(ready.then(sw => sw.handleFetch(req, client)).catch(() => viaOrigin(req, url)));
  });
})();
