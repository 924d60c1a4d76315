// Option validation: every option's default, accepted values, and each bad
// value rejected with an error naming the option.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  normalizeOptions,
  toWasmConfig,
  isMobileDevice,
  safeChannelId,
  defaultChannelId,
  OPTION_NAMES,
  TRACKER_ZONES,
  DEFAULT_ICE_SERVERS,
} from '../src/options.js';

const MiB = 1024 * 1024;
const fn = () => {};
const fakeVideo = { nodeType: 1, tagName: 'VIDEO' };
const fakeAudio = { nodeType: 1, tagName: 'AUDIO' };
const fakeDiv = { nodeType: 1, tagName: 'DIV' };

// Each row: the option, its default after normalization, accepted values
// with what they normalize to, and bad values with the error class.
const table = [
  {
    name: 'logLevel',
    def: 'error',
    valid: [['debug', 'debug'], ['warn', 'warn'], ['error', 'error'], ['none', 'none'], [true, 'warn'], [false, 'none']],
    invalid: [['info', RangeError], ['WARN', RangeError], ['', RangeError], [1, TypeError], [{}, TypeError]],
  },
  {
    name: 'token',
    def: undefined,
    valid: [['abc', 'abc'], ['', undefined]],
    invalid: [[123, TypeError], [true, TypeError], [{}, TypeError]],
  },
  {
    name: 'trackerZone',
    def: 'eu',
    valid: [['eu', 'eu'], ['hk', 'hk'], ['us', 'us']],
    invalid: [['cn', RangeError], ['EU', RangeError], [1, TypeError], [['eu'], TypeError]],
  },
  {
    name: 'announce',
    def: TRACKER_ZONES.eu,
    valid: [
      ['wss://t.example/announce', ['wss://t.example/announce']],
      [['ws://127.0.0.1:8000', 'wss://a.example'], ['ws://127.0.0.1:8000', 'wss://a.example']],
      [['wss://a.example', 'wss://a.example'], ['wss://a.example']],
    ],
    invalid: [
      ['https://t.example', RangeError],
      ['not a url', RangeError],
      [[], RangeError],
      [[42], TypeError],
      [7, TypeError],
    ],
  },
  {
    name: 'pieceLength',
    def: 512 * 1024,
    valid: [[16384, 16384], [1024 * 1024, 1024 * 1024], [16 * MiB, 16 * MiB]],
    invalid: [
      [0, RangeError],
      [-16384, RangeError],
      [1000, RangeError],
      [16384 + 1, RangeError],
      [16384.5, RangeError],
      [NaN, RangeError],
      [Infinity, RangeError],
      [16 * MiB + 16384, RangeError],
      ['524288', TypeError],
    ],
  },
  {
    name: 'mediaElem',
    def: undefined,
    valid: [['player', 'player'], [fakeVideo, fakeVideo], [fakeAudio, fakeAudio]],
    invalid: [['', RangeError], [fakeDiv, TypeError], [{}, TypeError], [42, TypeError]],
  },
  {
    name: 'p2pEnabled',
    def: true,
    valid: [[true, true], [false, false]],
    invalid: [['true', TypeError], [1, TypeError]],
  },
  {
    name: 'webRTCConfig',
    def: { iceServers: DEFAULT_ICE_SERVERS },
    valid: [
      [{}, { iceServers: DEFAULT_ICE_SERVERS }],
      [{ iceServers: [] }, { iceServers: [] }],
      [{ iceServers: [{ urls: 'stun:127.0.0.1:3478' }] }, { iceServers: [{ urls: 'stun:127.0.0.1:3478' }] }],
      [{ iceTransportPolicy: 'relay' }, { iceTransportPolicy: 'relay', iceServers: DEFAULT_ICE_SERVERS }],
    ],
    invalid: [['x', TypeError], [[], TypeError], [{ iceServers: 'stun:x' }, TypeError]],
  },
  {
    name: 'tag',
    def: '',
    valid: [['hls.js', 'hls.js'], ['', '']],
    invalid: [[1, TypeError]],
  },
  {
    name: 'swFile',
    def: './sw.js',
    valid: [['/sw.js', '/sw.js']],
    invalid: [['', RangeError], [1, TypeError]],
  },
  {
    name: 'swScope',
    def: './',
    valid: [['/app/', '/app/']],
    invalid: [['', RangeError], [false, TypeError]],
  },
  {
    name: 'showSlogan',
    def: false,
    valid: [[true, true], [false, false]],
    invalid: [['yes', TypeError]],
  },
  {
    name: 'diskCacheLimit',
    def: { pc: 1500 * MiB, mobile: 1000 * MiB },
    valid: [
      [0, { pc: 0, mobile: 0 }],
      [100 * MiB, { pc: 100 * MiB, mobile: 100 * MiB }],
      [{ pc: 10 }, { pc: 10, mobile: 1000 * MiB }],
      [{ mobile: 20 }, { pc: 1500 * MiB, mobile: 20 }],
      [{ pc: 1, mobile: 2 }, { pc: 1, mobile: 2 }],
    ],
    invalid: [
      [-1, RangeError],
      [{ pc: -1 }, RangeError],
      [{ mobile: -5 }, RangeError],
      [NaN, RangeError],
      [Infinity, RangeError],
      ['1GB', TypeError],
      [{ pc: '1' }, TypeError],
      [[1], TypeError],
    ],
  },
  {
    name: 'minBufferCount',
    def: 0,
    valid: [[0, 0], [3, 3]],
    invalid: [[-1, RangeError], [1.5, RangeError], ['2', TypeError]],
  },
  {
    name: 'channelId',
    def: undefined,
    extra: { token: 't' },
    valid: [['live-1', 'live-1'], [fn, fn]],
    invalid: [['', RangeError], [5, TypeError], [{}, TypeError]],
  },
  {
    name: 'wasmBaseUrl',
    def: undefined,
    valid: [['https://cdn.example.com/p2p/', 'https://cdn.example.com/p2p/']],
    invalid: [['', RangeError], [1, TypeError]],
  },
  {
    name: 'allowedHosts',
    def: [],
    valid: [
      [['https://cdn.example.com', 'media.example.com:8443'], ['https://cdn.example.com', 'media.example.com:8443']],
      [[], []],
    ],
    invalid: [
      ['cdn.example.com', TypeError],
      [[1], TypeError],
      [['https://cdn.example.com/path'], RangeError],
      [['cdn.example.com?x=1'], RangeError],
      [['http://'], RangeError],
    ],
  },
  {
    name: 'hashSource',
    def: undefined,
    valid: [
      ['https://hashes.example.com', 'https://hashes.example.com'],
      ['http://127.0.0.1:8081/h/', 'http://127.0.0.1:8081/h/'],
      [fn, fn],
      [{ peertube: true }, { peertube: true }],
      [{ peertube: 'https://pt.example/u-segments-sha256.json?t=1' }, { peertube: 'https://pt.example/u-segments-sha256.json?t=1' }],
      [{ peertube: fn }, { peertube: fn }],
    ],
    invalid: [
      ['', RangeError], ['hashes.example.com', RangeError], ['https://h.example.com/?x=1', RangeError], ['ftp://h.example.com', RangeError],
      [5, TypeError], [{}, TypeError], [[], TypeError], [{ peerTube: true }, TypeError], [{ peertube: false }, TypeError],
      [{ peertube: '/segments-sha256.json' }, RangeError], [{ peertube: 'ftp://pt.example/s.json' }, RangeError],
    ],
  },
  ...['validatePiece', 'getStats', 'getPeerId', 'getPeersInfo'].map((name) => ({
    name,
    def: undefined,
    valid: [[fn, fn]],
    invalid: [['fn', TypeError], [{}, TypeError]],
  })),
];

test('the table covers every option', () => {
  assert.deepEqual(table.map((r) => r.name).sort(), [...OPTION_NAMES].sort());
});

for (const row of table) {
  test(`option ${row.name}`, async (t) => {
    await t.test('default', () => {
      const { options, unknown } = normalizeOptions({});
      assert.deepEqual(options[row.name], row.def);
      assert.deepEqual(unknown, []);
    });
    await t.test('undefined and null mean the default', () => {
      for (const v of [undefined, null]) {
        const { options } = normalizeOptions({ ...row.extra, [row.name]: v });
        assert.deepEqual(options[row.name], row.def);
      }
    });
    for (const [value, want] of row.valid) {
      await t.test(`accepts ${show(value)}`, () => {
        const { options, unknown } = normalizeOptions({ ...row.extra, [row.name]: value });
        assert.deepEqual(options[row.name], want);
        assert.deepEqual(unknown, []);
      });
    }
    for (const [value, ErrorClass] of row.invalid) {
      await t.test(`rejects ${show(value)} with ${ErrorClass.name}`, () => {
        assert.throws(
          () => normalizeOptions({ ...row.extra, [row.name]: value }),
          (err) => {
            assert.ok(err instanceof ErrorClass, `got ${err && err.constructor.name}: ${err && err.message}`);
            assert.match(err.message, new RegExp(`"${row.name}(\\.\\w+)?"`));
            return true;
          },
        );
      });
    }
  });
}

test('unknown options are returned, not thrown', () => {
  const { options, unknown } = normalizeOptions({ trackerZone: 'us', foo: 1, p2pEnable: false });
  assert.deepEqual(unknown, ['foo', 'p2pEnable']);
  assert.equal(options.trackerZone, 'us');
  assert.equal(options.p2pEnabled, true);
});

test('unknown keys of diskCacheLimit are reported as unknown options', () => {
  const { options, unknown } = normalizeOptions({ diskCacheLimit: { pc: 5, tablet: 7 } });
  assert.deepEqual(unknown, ['diskCacheLimit.tablet']);
  assert.deepEqual(options.diskCacheLimit, { pc: 5, mobile: 1000 * MiB });
});

test('p2pConfig itself must be an object', () => {
  assert.doesNotThrow(() => normalizeOptions(undefined));
  assert.doesNotThrow(() => normalizeOptions(null));
  for (const bad of ['eu', 3, true, []]) {
    assert.throws(() => normalizeOptions(bad), (err) => err instanceof TypeError && /p2pConfig/.test(err.message));
  }
});

test('channelId requires a token', () => {
  for (const channelId of ['live', fn]) {
    for (const token of [undefined, '']) {
      assert.throws(
        () => normalizeOptions({ channelId, token }),
        (err) => err instanceof TypeError && /"channelId"/.test(err.message) && /token/.test(err.message),
      );
    }
  }
  assert.equal(normalizeOptions({ channelId: 'live', token: 'tk' }).options.channelId, 'live');
});

test('trackerZone picks its tracker list; announce overrides it', () => {
  for (const zone of ['eu', 'hk', 'us']) {
    const { options } = normalizeOptions({ trackerZone: zone });
    assert.deepEqual(options.announce, TRACKER_ZONES[zone]);
    assert.notEqual(options.announce, TRACKER_ZONES[zone], 'a copy, not the shared list');
  }
  const { options } = normalizeOptions({ trackerZone: 'hk', announce: 'ws://127.0.0.1:8000/' });
  assert.deepEqual(options.announce, ['ws://127.0.0.1:8000/']);
  assert.equal(options.trackerZone, 'hk');
});

test('every zone lists distinct wss trackers, in a zone-specific order', () => {
  const firsts = new Set();
  for (const [zone, list] of Object.entries(TRACKER_ZONES)) {
    assert.ok(list.length >= 3, zone);
    assert.equal(new Set(list).size, list.length, zone);
    for (const u of list) assert.equal(new URL(u).protocol, 'wss:', u);
    firsts.add(list[0]);
  }
  assert.equal(firsts.size, 3, 'each zone prefers a different tracker');
});

test('webRTCConfig is copied, never modified', () => {
  const given = { iceServers: [{ urls: 'stun:127.0.0.1' }], bundlePolicy: 'max-bundle' };
  const snapshot = structuredClone(given);
  const { options } = normalizeOptions({ webRTCConfig: given });
  options.webRTCConfig.iceServers.push({ urls: 'stun:x' });
  options.webRTCConfig.iceServers[0].urls = 'changed';
  assert.deepEqual(given, snapshot);
  const def = normalizeOptions({}).options.webRTCConfig;
  def.iceServers[0].urls = 'changed';
  assert.equal(DEFAULT_ICE_SERVERS[0].urls, 'stun:stun.l.google.com:19302');
});

test('toWasmConfig builds the config of newEngine', () => {
  const getStats = () => {};
  const { options } = normalizeOptions({
    token: 'tk',
    channelId: 'ch',
    announce: ['ws://127.0.0.1:8000'],
    pieceLength: 256 * 1024,
    diskCacheLimit: { pc: 300, mobile: 100 },
    minBufferCount: 2,
    logLevel: true,
    webRTCConfig: { iceServers: [] },
    tag: 'ignored',
    getStats,
  });
  const video = { nodeType: 1, tagName: 'VIDEO' };
  const pc = toWasmConfig(options, { mobile: false, mediaElem: /** @type {any} */ (video), p2pEnabled: true });
  assert.deepEqual(pc, {
    announce: ['ws://127.0.0.1:8000'],
    token: 'tk',
    channelId: 'ch',
    pieceLength: 256 * 1024,
    webRTCConfig: { iceServers: [] },
    p2pEnabled: true,
    diskCacheLimit: 300,
    minBufferCount: 2,
    logLevel: 'warn',
    mediaElem: video,
  });
  const mobile = toWasmConfig(options, { mobile: true, mediaElem: null, p2pEnabled: false });
  assert.equal(mobile.diskCacheLimit, 100);
  assert.equal(mobile.p2pEnabled, false);
  assert.equal(mobile.mediaElem, null);

  const bare = toWasmConfig(normalizeOptions({}).options, { mobile: false, mediaElem: null, p2pEnabled: true });
  assert.ok(!('token' in bare) && !('channelId' in bare));
  assert.deepEqual(bare.announce, TRACKER_ZONES.eu);
  assert.equal(bare.diskCacheLimit, 1500 * MiB);
  assert.equal(bare.pieceLength, 512 * 1024);
  assert.equal(bare.logLevel, 'error');
});

test('toWasmConfig passes the hash source and the piece check', () => {
  const validatePiece = () => true;
  const cfg = toWasmConfig(normalizeOptions({ hashSource: 'https://hashes.example.com', validatePiece }).options, { mobile: false, mediaElem: null, p2pEnabled: true });
  assert.equal(cfg.hashSource, 'https://hashes.example.com');
  assert.equal(cfg.validatePiece, validatePiece);
  const errors = [];
  const lists = toWasmConfig(normalizeOptions({
    hashSource: (url) => (url.endsWith('.mp4') ? url + '.hashes.json' : url.endsWith('.bad') ? 7 : null),
  }).options, { mobile: false, mediaElem: null, p2pEnabled: true, report: (e) => errors.push(e) });
  const list = /** @type {(u: string) => string | null} */ (lists.hashSource);
  assert.equal(list('https://cdn.example.com/a.mp4'), 'https://cdn.example.com/a.mp4.hashes.json');
  assert.equal(list('https://cdn.example.com/a.ts'), null);
  assert.equal(list('https://cdn.example.com/a.bad'), null);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /hashSource/);

  const fixed = toWasmConfig(normalizeOptions({ hashSource: { peertube: 'https://pt.example/s.json' } }).options, { mobile: false, mediaElem: null, p2pEnabled: true });
  assert.deepEqual(fixed.hashSource, { peertube: 'https://pt.example/s.json' });
  const ptErrors = [];
  const pt = toWasmConfig(normalizeOptions({
    hashSource: { peertube: (url) => (url.endsWith('.ts') ? url.replace(/[^/]*$/, 'segments-sha256.json') : url.endsWith('.bad') ? 7 : null) },
  }).options, { mobile: false, mediaElem: null, p2pEnabled: true, report: (e) => ptErrors.push(e) });
  const ptList = /** @type {{peertube: (u: string) => string | null}} */ (pt.hashSource).peertube;
  assert.equal(ptList('https://pt.example/live/0-000001.ts'), 'https://pt.example/live/segments-sha256.json');
  assert.equal(ptList('https://pt.example/live/init.mp4'), null);
  assert.equal(ptList('https://pt.example/live/x.bad'), null);
  assert.equal(ptErrors.length, 1);
});

test('a channelId function never throws into the wasm', () => {
  const errors = [];
  const { options } = normalizeOptions({
    token: 'tk',
    channelId: (url) => {
      if (url.includes('boom')) throw new Error('boom');
      if (url.includes('empty')) return '';
      return 'ch:' + new URL(url).pathname;
    },
  });
  const cfg = toWasmConfig(options, { mobile: false, mediaElem: null, p2pEnabled: true, report: (e) => errors.push(e) });
  assert.equal(typeof cfg.channelId, 'function');
  const id = /** @type {(u: string) => string} */ (cfg.channelId);
  assert.equal(id('https://cdn.example.com/a.mp4?x=1'), 'ch:/a.mp4');
  assert.equal(id('https://cdn.example.com:8443/boom.mp4?x=1'), 'cdn.example.com:8443/boom.mp4');
  assert.equal(id('https://cdn.example.com/empty.mp4'), 'cdn.example.com/empty.mp4');
  assert.equal(errors.length, 2);
  assert.match(String(errors[1]), /channelId/);
  assert.equal(safeChannelId(() => 'x')('https://a/b'), 'x');
});

test('defaultChannelId drops scheme, query and fragment', () => {
  assert.equal(defaultChannelId('https://cdn.example.com/v/a.mp4?x=1#t=3'), 'cdn.example.com/v/a.mp4');
  assert.equal(defaultChannelId('http://cdn.example.com:8080/a%20b.mp4'), 'cdn.example.com:8080/a%20b.mp4');
});

test('isMobileDevice prefers userAgentData, then the user agent', () => {
  assert.equal(isMobileDevice(undefined), false);
  assert.equal(isMobileDevice({ userAgentData: { mobile: true }, userAgent: 'X11; Linux' }), true);
  assert.equal(isMobileDevice({ userAgentData: { mobile: false }, userAgent: 'Android Mobile' }), false);
  assert.equal(
    isMobileDevice({ userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148' }),
    true,
  );
  assert.equal(isMobileDevice({ userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36' }), true);
  assert.equal(isMobileDevice({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36' }), false);
});

/** @param {unknown} v */
function show(v) {
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
