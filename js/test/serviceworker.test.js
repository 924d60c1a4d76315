// portAck: the page waits for the service worker to confirm its port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { portAck } from '../src/serviceworker.js';

/** Installs a fake navigator.serviceWorker for the test and returns it. */
function fakeServiceWorker(t) {
  const sw = new EventTarget();
  sw.started = 0;
  sw.startMessages = () => sw.started++;
  const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { serviceWorker: sw }, configurable: true, writable: true });
  t.after(() => {
    if (had) Object.defineProperty(globalThis, 'navigator', had);
    else delete globalThis.navigator;
  });
  sw.post = (data) => sw.dispatchEvent(Object.assign(new Event('message'), { data }));
  return sw;
}

test('portAck resolves with the ack of its own port only', async (t) => {
  const sw = fakeServiceWorker(t);
  const acked = portAck(7, 5000);
  assert.equal(sw.started, 1, 'starts the client message queue');
  let settled = false;
  acked.then(() => (settled = true));
  sw.post({ type: 'p2pmedia-port-ack', id: 6, ok: true });
  sw.post({ type: 'other', id: 7, ok: true });
  sw.post(null);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, 'other messages do not settle it');
  sw.post({ type: 'p2pmedia-port-ack', id: 7, ok: true });
  assert.equal(await acked, true);
});

test('portAck gives false for a worker whose wasm failed, or no answer', async (t) => {
  const sw = fakeServiceWorker(t);
  const failed = portAck(1, 5000);
  sw.post({ type: 'p2pmedia-port-ack', id: 1, ok: false });
  assert.equal(await failed, false);
  assert.equal(await portAck(2, 30), false, 'times out');
  // Listeners are removed once settled: a late ack changes nothing.
  sw.post({ type: 'p2pmedia-port-ack', id: 2, ok: true });
});
