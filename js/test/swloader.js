// loadServiceWorker evaluates js/p2p-sw.js as a service worker would, in a
// context of its own with no network, and returns its self.MediaProxy.

import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const source = readFileSync(new URL('../p2p-sw.js', import.meta.url), 'utf8');

/** @returns {{version: string, originalUrl: (url: string) => string}} */
export function loadServiceWorker() {
  const offline = () => Promise.reject(new Error('no network in this test'));
  /** @type {Record<string, any>} */
  const g = {
    URL,
    Headers,
    Response,
    setTimeout,
    clearTimeout,
    console: { warn() {}, log() {}, error() {} },
    location: { href: 'https://site.example/sw.js' },
    registration: { scope: 'https://site.example/' },
    caches: { open: offline },
    fetch: offline,
    // The source is consumed, as the browser does: its rejection is handled.
    WebAssembly: { instantiateStreaming: (/** @type {Promise<unknown>} */ src) => src.then(offline), instantiate: offline },
    addEventListener() {},
    importScripts() {
      g.Go = class {
        importObject = {};
        run() {}
      };
    },
  };
  g.self = g;
  vm.runInNewContext(source, g, { filename: 'p2p-sw.js' });
  return g.MediaProxy;
}
