/*
 * p2p-sw.js: the service-worker loader of p2pmedia (docs/browser-runtime.md).
 *
 * A site's sw.js is one line: importScripts('<dist>/p2p-sw.js'). This script
 * starts p2p-sw.wasm, the Go program that serves proxied media URLs from the
 * page's engine, and hands it the fetches of proxied URLs and the ports the
 * pages send. Other requests are left to the browser. Should the wasm fail to
 * load, proxied URLs are fetched from their origin in plain JS.
 *
 * A proxied URL is answered only for a media request (a media element's, or
 * fetch/XHR's) of an origin that a page of the site registered (the URLs given
 * to getProxiedUrl, the origins its manifests name, its allowedHosts); any
 * other request of a proxied URL gets a 403 and never the foreign body, which
 * the browser would otherwise run as this site's own (docs/browser-runtime.md,
 * "What the service worker serves"). The registered origins are kept in Cache
 * Storage, so that a worker the browser stopped knows them when it starts.
 *
 * self.MediaProxy.originalUrl(url) is the URL a proxied URL stands for ('' for
 * any other URL), for a site's own service worker code.
 *
 * Options, set on self before importScripts:
 *   P2P_MEDIA_BASE      where wasm_exec.js and p2p-sw.wasm are (default: the
 *                       directory of this script)
 *   P2P_MEDIA_TIMEOUTS  {open, piece} in milliseconds (default 2000, 8000)
 */
(() => {
  'use strict';

  const MARK = '/__p2pmedia__/';
  const proxy = self.MediaProxy = {version: '__VERSION__', wasmVersion: '', originalUrl};

  // The destinations of media requests: media elements and text tracks, and
  // the empty destination of fetch() and XHR, which MSE players use.
  const MEDIA_DESTINATIONS = new Set(['', 'video', 'audio', 'track']);
  // MAX_HOSTS bounds the registered origins; the least recently registered
  // go first.
  const MAX_HOSTS = 256;
  const HOSTS_CACHE = 'p2pmedia-sw';
  const HOSTS_KEY = new URL('__p2pmedia__/registered-origins', self.registration ? self.registration.scope : self.location.href).href;

  // hosts holds the registered origins, least recently registered first.
  const hosts = new Set();
  const hostsLoaded = (async () => {
    try {
      const r = await (await caches.open(HOSTS_CACHE)).match(HOSTS_KEY);
      const list = r ? await r.json() : [];
      if (Array.isArray(list)) for (const o of list) if (typeof o === 'string' && hosts.size < MAX_HOSTS) hosts.add(o);
    } catch (e) { /* no Cache Storage: pages register again */ }
  })();

  // originsOf returns the origins an entry names: an http(s) URL or origin
  // gives its own; a bare host[:port] gives its http and https origins.
  function originsOf(entry) {
    if (typeof entry !== 'string' || entry.length > 2048) return [];
    try {
      if (!/^https?:\/\//i.test(entry)) return [new URL('http://' + entry).origin, new URL('https://' + entry).origin];
      const u = new URL(entry);
      return u.host ? [u.origin] : [];
    } catch (e) {
      return [];
    }
  }

  // addHosts registers the origins list names and stores the set.
  async function addHosts(list) {
    if (!Array.isArray(list)) return;
    await hostsLoaded;
    let changed = false;
    for (const o of list.slice(0, MAX_HOSTS).flatMap(originsOf)) {
      changed = changed || !hosts.has(o);
      hosts.delete(o);
      hosts.add(o);
    }
    for (const o of hosts) {
      if (hosts.size <= MAX_HOSTS) break;
      hosts.delete(o);
    }
    if (!changed) return;
    try {
      await (await caches.open(HOSTS_CACHE)).put(HOSTS_KEY, new Response(JSON.stringify([...hosts]), {headers: {'content-type': 'application/json'}}));
    } catch (e) { /* kept for this run of the worker */ }
  }

  // registered reports whether url's origin is registered.
  function registered(url) {
    try {
      return hosts.has(new URL(url).origin);
    } catch (e) {
      return false;
    }
  }
  // The Go program checks the origin it decoded itself, and registers the
  // origins named by the manifests it serves.
  self.__p2pmediaHosts = {registered, add: list => { addHosts(list); }};

  // refusal says why req, a request of a proxied URL standing for url, is
  // not served; '' when it is.
  function refusal(req, url) {
    if (req.mode === 'navigate') return 'a navigation';
    if (!MEDIA_DESTINATIONS.has(req.destination)) return `a request for a ${req.destination}`;
    if (req.method !== 'GET' && req.method !== 'HEAD') return `a ${req.method} request`;
    if (!registered(url)) return 'media of an origin that no page of this site registered';
    return '';
  }

  // refuse is the answer to a request of a proxied URL that is not served.
  function refuse(why) {
    return new Response(`p2pmedia: this service worker does not serve ${why} through a proxied URL\n`, {
      status: 403,
      headers: {'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store'},
    });
  }

  // nosniff returns resp with X-Content-Type-Options: nosniff. Left as they
  // are: data: responses (a native HLS player needs their URL), redirects,
  // opaque responses, and a partial response whose Content-Range the
  // origin does not expose (a copy would lose it).
  function nosniff(resp) {
    const h = resp.headers;
    if (h.get('x-content-type-options') === 'nosniff' || resp.type === 'opaque' || resp.type === 'opaqueredirect' ||
        resp.url.startsWith('data:') || (resp.status >= 300 && resp.status < 400) || (resp.status === 206 && !h.has('content-range'))) {
      return resp;
    }
    const headers = new Headers(h);
    headers.set('x-content-type-options', 'nosniff');
    return new Response(resp.body, {status: resp.status, statusText: resp.statusText, headers});
  }

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
  // The Go programs' rule is the same (internal/mediaurl): both are tested
  // against internal/mediaurl/testdata/original.json.
  function originalUrl(url) {
    let u;
    try {
      u = new URL(url);
    } catch (e) {
      return '';
    }
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
    if (!d || !e.source) return;
    if (d.type === 'p2pmedia-hosts') {
      // A page registers the origins it proxies before it hands out their
      // proxied URLs.
      e.waitUntil(addHosts(d.hosts).then(() => e.source.postMessage({type: 'p2pmedia-hosts-ack', id: d.id})).catch(() => {}));
      return;
    }
    if (d.type !== 'p2pmedia-port' || !e.ports[0]) return;
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
    e.respondWith(hostsLoaded.then(() => {
      const why = refusal(req, url);
      if (why) return refuse(why);
      const client = e.clientId;
      askPort(client);
      return ready.then(sw => sw.handleFetch(req, client)).catch(() => viaOrigin(req, url)).then(nosniff);
    }));
  });
})();
