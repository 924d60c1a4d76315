// The event emitter and the delivery of wasm events to listeners and callbacks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter } from '../src/emitter.js';
import { dispatch, exceptionPayload, EVENTS, EXCEPTION_CODES } from '../src/events.js';

test('on: every listener, in order, every time', () => {
  const e = new Emitter();
  const calls = [];
  e.on('stats', (s) => calls.push(['a', s]));
  e.on('stats', (s) => calls.push(['b', s]));
  e.on('peers', (p) => calls.push(['peers', p]));
  assert.equal(e.emit('stats', 1), true);
  assert.equal(e.emit('stats', 2), true);
  assert.equal(e.emit('nothing', 3), false);
  assert.deepEqual(calls, [['a', 1], ['b', 1], ['a', 2], ['b', 2]]);
  assert.equal(e.listenerCount('stats'), 2);
});

test('once: called the first time only', () => {
  const e = new Emitter();
  const calls = [];
  e.once('peerId', (id) => calls.push(id));
  e.emit('peerId', 'x');
  e.emit('peerId', 'y');
  assert.deepEqual(calls, ['x']);
  assert.equal(e.listenerCount('peerId'), 0);
});

test('once: an emit from inside the listener does not call it again', () => {
  const e = new Emitter();
  let n = 0;
  e.once('x', () => {
    n++;
    e.emit('x');
  });
  e.emit('x');
  assert.equal(n, 1);
});

test('off: removes one registration, of on or once, or all of an event', () => {
  const e = new Emitter();
  const calls = [];
  const a = (v) => calls.push('a' + v);
  const b = (v) => calls.push('b' + v);
  e.on('s', a);
  e.on('s', a);
  e.once('s', b);
  e.off('s', a);
  e.off('s', b);
  e.emit('s', 1);
  assert.deepEqual(calls, ['a1'], 'one of the two registrations of a is left, b is gone');
  e.off('s', () => {});
  e.off('unknown', a);
  e.emit('s', 2);
  assert.deepEqual(calls, ['a1', 'a2']);
  e.on('s', b);
  e.off('s');
  assert.equal(e.emit('s', 3), false);
  assert.deepEqual(calls, ['a1', 'a2']);
});

test('listeners removed or added during emit do not change that emit', () => {
  const e = new Emitter();
  const calls = [];
  const second = () => calls.push('second');
  e.on('s', () => {
    calls.push('first');
    e.off('s', second);
    e.on('s', () => calls.push('late'));
  });
  e.on('s', second);
  e.emit('s');
  assert.deepEqual(calls, ['first', 'second']);
  calls.length = 0;
  e.emit('s');
  assert.deepEqual(calls, ['first', 'late']);
});

test('a listener that throws is reported and does not stop the others', () => {
  const reported = [];
  const e = new Emitter((err) => reported.push(err));
  const calls = [];
  e.on('s', () => {
    throw new Error('bad listener');
  });
  e.on('s', () => calls.push('ok'));
  e.emit('s');
  assert.deepEqual(calls, ['ok']);
  assert.equal(reported.length, 1);
  assert.equal(reported[0].message, 'bad listener');
});

test('removeAll', () => {
  const e = new Emitter();
  e.on('a', () => {});
  e.once('b', () => {});
  e.removeAll();
  assert.equal(e.emit('a'), false);
  assert.equal(e.emit('b'), false);
});

test('on and once check their arguments', () => {
  const e = new Emitter();
  assert.throws(() => e.on('stats', /** @type {any} */ ('nope')), (err) => err instanceof TypeError && /stats/.test(err.message));
  assert.throws(() => e.once(/** @type {any} */ (1), () => {}), TypeError);
});

test('dispatch: listeners, then the matching callback, with the documented arguments', () => {
  const e = new Emitter();
  const calls = [];
  for (const name of EVENTS) e.on(name, (p) => calls.push(['event', name, p]));
  const callbacks = {
    getStats: (...a) => calls.push(['getStats', ...a]),
    getPeerId: (id) => calls.push(['getPeerId', id]),
    getPeersInfo: (peers) => calls.push(['getPeersInfo', peers]),
  };
  const report = (err) => calls.push(['report', err]);
  const stats = { totalHTTPDownloaded: 1, totalP2PDownloaded: 2, totalP2PUploaded: 3, p2pDownloadSpeed: 4 };
  const peers = [{ id: 'p', swarm: 's', downloaded: 5, uploaded: 6 }];
  dispatch(e, callbacks, 'stats', stats, report);
  dispatch(e, callbacks, 'peerId', 'me', report);
  dispatch(e, callbacks, 'peers', peers, report);
  dispatch(e, callbacks, 'serverConnected', true, report);
  dispatch(e, callbacks, 'exception', { code: 'TRACKER_EXPT', message: 'm', stack: '' }, report);
  assert.deepEqual(calls, [
    ['event', 'stats', stats],
    ['getStats', 2, 3, 1, 4], // totalP2PDownloaded, totalP2PUploaded, totalHTTPDownloaded, p2pDownloadSpeed
    ['event', 'peerId', 'me'],
    ['getPeerId', 'me'],
    ['event', 'peers', peers],
    ['getPeersInfo', peers],
    ['event', 'serverConnected', true],
    ['event', 'exception', { code: 'TRACKER_EXPT', message: 'm', stack: '' }],
  ]);
});

test('dispatch: a throwing callback is reported; no callbacks is fine', () => {
  const reported = [];
  dispatch(new Emitter(), { getPeerId: () => { throw new Error('cb'); } }, 'peerId', 'x', (err) => reported.push(err));
  assert.equal(reported.length, 1);
  assert.doesNotThrow(() => dispatch(new Emitter(), {}, 'stats', undefined, () => {}));
});

test('exceptionPayload', () => {
  const err = new Error('no tracker');
  assert.deepEqual(exceptionPayload('TRACKER_EXPT', err), { code: 'TRACKER_EXPT', message: 'no tracker', stack: err.stack });
  assert.deepEqual(exceptionPayload('SW_EXPT', 'plain'), { code: 'SW_EXPT', message: 'plain', stack: '' });
  assert.deepEqual(Object.keys(EXCEPTION_CODES), ['TRACKER_EXPT', 'SIGNAL_EXPT', 'PEER_EXPT', 'HTTP_EXPT', 'STORE_EXPT', 'SW_EXPT', 'WASM_EXPT', 'MANIFEST_EXPT']);
});
