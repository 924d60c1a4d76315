// P2PEngineMedia in Node, where WebRTC and service workers are missing: the
// API surface, option errors, warnings, and getProxiedUrl falling back to
// the original URL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import P2PEngineMedia, { P2PEngineMedia as Named } from '../src/index.js';
import { isSupported, isWebRTCSupported, isServiceWorkerSupported } from '../src/support.js';

test('default and named exports are the same class', () => {
  assert.equal(P2PEngineMedia, Named);
  assert.equal(typeof P2PEngineMedia, 'function');
});

test('statics', () => {
  assert.equal(P2PEngineMedia.version, 'dev', 'unbundled source; build.mjs injects the release');
  assert.equal(P2PEngineMedia.protocolVersion, 1);
  assert.throws(() => {
    'use strict';
    /** @type {any} */ (P2PEngineMedia).version = 'x';
  }, TypeError);
  assert.equal(P2PEngineMedia.version, 'dev');
  for (const name of ['isSupported', 'isWebRTCSupported', 'isSeviceWorkerSupported', 'isServiceWorkerSupported']) {
    assert.equal(typeof P2PEngineMedia[name], 'function', name);
    assert.equal(P2PEngineMedia[name](), false, `${name} in Node`);
  }
});

test('methods of the public API exist', () => {
  const e = new P2PEngineMedia();
  for (const name of ['getProxiedUrl', 'enableP2P', 'disableP2P', 'restartP2p', 'restartP2P', 'destroy', 'on', 'once', 'off']) {
    assert.equal(typeof e[name], 'function', name);
  }
  e.destroy();
});

test('bad options throw, naming the option', () => {
  const cases = [
    [{ pieceLength: 1000 }, RangeError, 'pieceLength'],
    [{ diskCacheLimit: -1 }, RangeError, 'diskCacheLimit'],
    [{ diskCacheLimit: { mobile: -1 } }, RangeError, 'diskCacheLimit.mobile'],
    [{ minBufferCount: -2 }, RangeError, 'minBufferCount'],
    [{ channelId: 'x' }, TypeError, 'channelId'],
    [{ trackerZone: 'mars' }, RangeError, 'trackerZone'],
    [{ p2pEnabled: 'no' }, TypeError, 'p2pEnabled'],
    [{ getStats: 1 }, TypeError, 'getStats'],
    ['eu', TypeError, 'p2pConfig'],
  ];
  for (const [cfg, ErrorClass, name] of cases) {
    assert.throws(
      () => new P2PEngineMedia(/** @type {any} */ (cfg)),
      (err) => err instanceof ErrorClass && err.message.includes(`"${name}"`),
      name,
    );
  }
});

test('unknown options warn, naming them, and do not throw', (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const e = new P2PEngineMedia(/** @type {any} */ ({ trackerZone: 'us', p2pEnable: false, foo: 1 }));
  assert.equal(warn.mock.callCount(), 1);
  const msg = String(warn.mock.calls[0].arguments.join(' '));
  assert.match(msg, /p2pEnable/);
  assert.match(msg, /foo/);
  assert.ok(!/trackerZone/.test(msg));
  e.destroy();

  new P2PEngineMedia(/** @type {any} */ ({ foo: 1, logLevel: 'none' })).destroy();
  new P2PEngineMedia(/** @type {any} */ ({ foo: 1, logLevel: false })).destroy();
  assert.equal(warn.mock.callCount(), 1, 'logLevel none silences the warning');
  new P2PEngineMedia({ trackerZone: 'hk' }).destroy();
  assert.equal(warn.mock.callCount(), 1, 'no warning without unknown options');
});

test('showSlogan prints one line, once per page', (t) => {
  const info = t.mock.method(console, 'info', () => {});
  new P2PEngineMedia().destroy();
  assert.equal(info.mock.callCount(), 0);
  new P2PEngineMedia({ showSlogan: true }).destroy();
  new P2PEngineMedia({ showSlogan: true }).destroy();
  assert.equal(info.mock.callCount(), 1);
  const line = String(info.mock.calls[0].arguments.join(' '));
  assert.ok(!line.includes('\n'));
  assert.match(line, /p2pmedia/);
});

test('getProxiedUrl gives the original URL when P2P cannot run', async () => {
  const url = 'https://cdn.example.com/v/a.mp4?x=1';
  const engines = {
    unsupported: new P2PEngineMedia(),
    'p2pEnabled false': new P2PEngineMedia({ p2pEnabled: false }),
    'disabled later': new P2PEngineMedia(),
    destroyed: new P2PEngineMedia(),
  };
  engines['disabled later'].disableP2P();
  engines.destroyed.destroy();
  for (const [name, e] of Object.entries(engines)) {
    assert.equal(await e.getProxiedUrl(url), url, name);
    e.destroy();
  }
});

test('getProxiedUrl never rejects, whatever it is given', async () => {
  const e = new P2PEngineMedia();
  const u = new URL('https://cdn.example.com/a.mp4');
  assert.equal(await e.getProxiedUrl(/** @type {any} */ (u)), u.href);
  assert.equal(await e.getProxiedUrl('not a url'), 'not a url');
  assert.equal(await e.getProxiedUrl(/** @type {any} */ (undefined)), 'undefined');
  const p = e.getProxiedUrl('https://a.example/b');
  assert.ok(p instanceof Promise);
  await p;
  e.destroy();
});

test('enableP2P, disableP2P, restartP2p, restartP2P and destroy are safe without support', async () => {
  const e = new P2PEngineMedia({ p2pEnabled: false });
  e.enableP2P();
  e.restartP2p();
  e.restartP2P();
  e.disableP2P();
  e.enableP2P();
  assert.equal(await e.getProxiedUrl('https://a.example/b.mp4'), 'https://a.example/b.mp4');
  e.destroy();
  e.destroy();
  e.enableP2P();
  e.restartP2p();
  assert.equal(await e.getProxiedUrl('https://a.example/b.mp4'), 'https://a.example/b.mp4');
});

test('on, once and off return the engine; destroy removes listeners', async () => {
  const e = new P2PEngineMedia();
  const seen = [];
  const l = (v) => seen.push(v);
  assert.equal(e.on('stats', l), e);
  assert.equal(e.once('peerId', l), e);
  assert.equal(e.off('stats', l), e);
  assert.equal(e.on('stats', l).on('peers', l).off('peers'), e);
  assert.throws(() => e.on('stats', /** @type {any} */ (null)), TypeError);

  // Deliver events as the wasm would, through the engine's emit function.
  e._emit('stats', 1);
  e._emit('peerId', 'a');
  e._emit('peerId', 'b');
  e._emit('peers', []);
  assert.deepEqual(seen, [], 'delivery is asynchronous');
  await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, [1, 'a']);

  e._emit('stats', 2);
  e.destroy();
  e._emit('stats', 3);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, [1, 'a'], 'nothing after destroy');
});

test('callbacks receive the events of the wasm', async () => {
  const got = [];
  const e = new P2PEngineMedia({
    getStats: (...a) => got.push(['getStats', ...a]),
    getPeerId: (id) => got.push(['getPeerId', id]),
    getPeersInfo: (p) => got.push(['getPeersInfo', p]),
  });
  e._emit('stats', { totalHTTPDownloaded: 10, totalP2PDownloaded: 20, totalP2PUploaded: 30, p2pDownloadSpeed: 40 });
  e._emit('peerId', 'me');
  e._emit('peers', ['p']);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(got, [
    ['getStats', 20, 30, 10, 40],
    ['getPeerId', 'me'],
    ['getPeersInfo', ['p']],
  ]);
  e.destroy();
});

test('shim exceptions arrive as exception events with code, message and stack', async (t) => {
  t.mock.method(console, 'error', () => {});
  const e = new P2PEngineMedia({ logLevel: 'none' });
  const got = [];
  e.on('exception', (x) => got.push(x));
  e._exception('SW_EXPT', new Error('registration failed'));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(got.length, 1);
  assert.equal(got[0].code, 'SW_EXPT');
  assert.equal(got[0].message, 'registration failed');
  assert.match(got[0].stack, /registration failed/);
  e.destroy();
});

// Feature detection, with the browser globals it looks for put in place one
// by one and each removed in turn.
test('isSupported needs every feature', (t) => {
  const features = {
    isSecureContext: true,
    RTCPeerConnection: function RTCPeerConnection() {},
    RTCDataChannel: function RTCDataChannel() {},
    navigator: { serviceWorker: { register() {} }, userAgent: 'test' },
    ReadableStream: globalThis.ReadableStream,
    WebAssembly: globalThis.WebAssembly,
    MessageChannel: globalThis.MessageChannel,
    fetch: globalThis.fetch,
  };
  const saved = {};
  for (const k of Object.keys(features)) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
  const set = (k, v) => Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  t.after(() => {
    for (const [k, d] of Object.entries(saved)) {
      if (d) Object.defineProperty(globalThis, k, d);
      else delete globalThis[k];
    }
  });
  for (const [k, v] of Object.entries(features)) set(k, v);
  assert.equal(isSupported(), true);
  assert.equal(isWebRTCSupported(), true);
  assert.equal(isServiceWorkerSupported(), true);
  assert.equal(P2PEngineMedia.isSeviceWorkerSupported(), true);

  for (const k of Object.keys(features)) {
    set(k, undefined);
    assert.equal(isSupported(), false, `without ${k}`);
    set(k, features[k]);
  }
  set('isSecureContext', false);
  assert.equal(isSupported(), false, 'insecure context');
  set('isSecureContext', true);

  // Browsers with createDataChannel but no RTCDataChannel global.
  const pc = function RTCPeerConnection() {};
  pc.prototype.createDataChannel = function () {};
  set('RTCPeerConnection', pc);
  set('RTCDataChannel', undefined);
  assert.equal(isWebRTCSupported(), true);
  set('navigator', { userAgent: 'no service worker' });
  assert.equal(isServiceWorkerSupported(), false);
  assert.equal(P2PEngineMedia.isServiceWorkerSupported(), false);
});
