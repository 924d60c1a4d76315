'use strict';
// e2e drives one viewer of the end-to-end tests and browser benchmarks
// (tests/browser/e2e_*_test.go, bench_test.go). It creates a P2PEngineMedia
// the way a site does, plays media through it in the page's <video> or
// <audio>, and records what a site can observe: the engine's events and
// option callbacks, the player's events, page errors and console warnings.
// Go calls these functions through chromedp and reads e2e.snapshot().
const e2e = (() => {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const clone = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  const EVENTS = ['peerId', 'peers', 'stats', 'serverConnected', 'exception'];

  const events = []; // {name, payload, at}
  const calls = {getStats: [], getPeerId: [], getPeersInfo: []}; // the last arguments of each callback
  const counts = {getStats: 0, getPeerId: 0, getPeersInfo: 0};
  const warnings = []; // console.warn lines
  const pageErrors = []; // uncaught errors and unhandled rejections
  let engine = null;
  let el = null;
  let probe = null;
  const media = {
    src: '', setSrcAt: null, firstPlayingAt: null, endedAt: null,
    playing: 0, stalls: 0, seekWaits: 0, seeks: 0, timeupdates: 0, ended: false,
    errors: [], playErrors: [], maxTime: 0,
  };

  addEventListener('error', (e) => pageErrors.push(`error: ${e.message}`));
  addEventListener('unhandledrejection', (e) => pageErrors.push(`unhandled rejection: ${e.reason}`));
  const warn = console.warn.bind(console);
  console.warn = (...args) => {
    warnings.push(args.map(String).join(' '));
    warn(...args);
  };

  function element(kind) {
    return document.getElementById(kind === 'audio' ? 'audio' : 'video');
  }

  // watch records the player's events: a stall is a `waiting` after the
  // first `playing` that no seek caused.
  function watch(elem) {
    if (el === elem) return;
    el = elem;
    const on = (type, fn) => elem.addEventListener(type, fn);
    on('playing', () => {
      media.playing++;
      if (media.firstPlayingAt === null) media.firstPlayingAt = now();
    });
    on('waiting', () => {
      if (media.firstPlayingAt === null) return;
      if (elem.seeking) media.seekWaits++;
      else media.stalls++;
    });
    on('seeking', () => media.seeks++);
    on('timeupdate', () => {
      media.timeupdates++;
      media.maxTime = Math.max(media.maxTime, elem.currentTime);
    });
    on('ended', () => {
      media.ended = true;
      media.endedAt = now();
    });
    on('error', () => {
      const e = elem.error;
      media.errors.push({code: e ? e.code : 0, message: e ? e.message : ''});
    });
  }

  function record(name) {
    return (payload) => events.push({name, payload: clone(payload), at: now()});
  }

  // create makes the engine with opts, as a site does, with the page's
  // element as mediaElem (unless opts names one) and, with
  // opts.callbacks, the three option callbacks.
  function create(opts) {
    const o = {...opts};
    const kind = o.kind;
    delete o.kind;
    const elem = element(kind);
    watch(elem);
    if (!('mediaElem' in o)) o.mediaElem = elem;
    if (o.callbacks) {
      delete o.callbacks;
      for (const name of Object.keys(calls)) {
        o[name] = (...args) => {
          counts[name]++;
          calls[name] = clone(args);
        };
      }
    }
    engine = new P2PEngineMedia(o);
    for (const name of EVENTS) engine.on(name, record(name));
    return true;
  }

  // tryCreate reports whether new P2PEngineMedia(opts) throws, and what.
  function tryCreate(opts) {
    try {
      const e = new P2PEngineMedia(opts);
      e.destroy();
      return {ok: true, name: '', message: ''};
    } catch (err) {
      return {ok: false, name: err.name, message: err.message};
    }
  }

  // statics reads the static API of the classic script and of the ES module.
  async function statics() {
    const P = P2PEngineMedia;
    const mod = await import('/dist/p2p-engine.js');
    return {
      version: P.version,
      protocolVersion: P.protocolVersion,
      isSupported: P.isSupported(),
      isWebRTCSupported: P.isWebRTCSupported(),
      isSeviceWorkerSupported: P.isSeviceWorkerSupported(),
      isServiceWorkerSupported: P.isServiceWorkerSupported(),
      esmVersion: mod.default.version,
      esmProtocolVersion: mod.default.protocolVersion,
      methods: ['getProxiedUrl', 'enableP2P', 'disableP2P', 'restartP2p', 'restartP2P', 'destroy', 'on', 'once', 'off']
        .filter((m) => typeof P.prototype[m] === 'function'),
    };
  }

  // play gives the player the proxied URL of url (or url itself), at rate.
  async function play({kind, url, rate = 1, proxied = true}) {
    watch(element(kind));
    const abs = new URL(url, location.href).href;
    const src = proxied && engine ? await engine.getProxiedUrl(abs) : abs;
    media.src = src;
    el.src = src;
    el.defaultPlaybackRate = rate;
    el.playbackRate = rate;
    media.setSrcAt = now();
    el.play().catch((e) => media.playErrors.push(String(e)));
    return src;
  }

  function setRate(rate) {
    el.defaultPlaybackRate = rate;
    el.playbackRate = rate;
    return rate;
  }

  async function waitFor(pred, ms, what) {
    const end = performance.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  // seek moves the playhead to t and resolves once playback moves on from
  // there (or the media ended).
  async function seek(t, ms = 20000) {
    const seeked = new Promise((resolve) => el.addEventListener('seeked', resolve, {once: true}));
    el.currentTime = t;
    await Promise.race([seeked, sleep(ms).then(() => {
      throw new Error(`no seeked event after seeking to ${t}`);
    })]);
    await waitFor(() => el.ended || el.currentTime >= t + 0.5, ms, `playback after the seek to ${t}`);
    return el.currentTime;
  }

  // hashes fetches url whole, then each [start, end] range, with fetch()
  // (through the service worker for a proxied URL) and returns the status,
  // length and SHA-256 of each body.
  async function hashes(url, ranges, blockSize = 0) {
    const out = [];
    for (const r of [null, ...ranges]) {
      const headers = r ? {range: `bytes=${r[0]}-${r[1]}`} : {};
      const resp = await fetch(url, {headers, cache: 'no-store'});
      const buf = await resp.arrayBuffer();
      out.push({status: resp.status, length: buf.byteLength, sha256: hex(await crypto.subtle.digest('SHA-256', buf))});
    }
    if (blockSize) {
      // And the SHA-256 of each blockSize bytes of the whole body, to count
      // what differs.
      const buf = await (await fetch(url, {cache: 'no-store'})).arrayBuffer();
      out[0].blocks = [];
      for (let i = 0; i < buf.byteLength; i += blockSize) {
        out[0].blocks.push(hex(await crypto.subtle.digest('SHA-256', buf.slice(i, i + blockSize))));
      }
    }
    return out;
  }

  // call invokes a method of the engine and reports what it returned or
  // threw.
  function call(method, ...args) {
    try {
      const r = engine[method](...args);
      return {ok: true, returned: r === engine ? 'this' : typeof r};
    } catch (err) {
      return {ok: false, error: String(err)};
    }
  }

  // probeListeners registers listeners that check on, once and off on the
  // stats event; snapshot().probe reports what they saw.
  function probeListeners() {
    const p = {removedAll: 0, removed: 0, once: 0, kept: 0, chained: false,
      before: events.filter((e) => e.name === 'stats').length};
    engine.on('stats', () => p.removedAll++);
    engine.off('stats'); // every stats listener, the recorder too
    engine.on('stats', record('stats'));
    const f = () => p.removed++;
    p.chained = engine.on('stats', f) === engine && engine.off('stats', f) === engine &&
      engine.once('stats', () => p.once++) === engine;
    engine.on('stats', () => p.kept++);
    probe = p;
    return p.chained;
  }

  function last(name) {
    for (let i = events.length - 1; i >= 0; i--) if (events[i].name === name) return events[i];
    return null;
  }

  // waitPeers resolves with the last peers list once pred accepts it.
  async function waitPeers(pred, ms, what) {
    await waitFor(() => {
      const e = last('peers');
      return e && pred(e.payload);
    }, ms, what);
    return last('peers').payload;
  }

  // firstP2PBytes resolves once the engine has received bytes from a peer,
  // polling the page wasm engine's stats() (player.html keeps it): the
  // public stats event comes once a second, too late for the test that
  // uses this to cut a transfer short.
  async function firstP2PBytes(ms) {
    const end = performance.now() + ms;
    for (;;) {
      const wasm = window.__wasmEngines[window.__wasmEngines.length - 1];
      const st = wasm ? wasm.stats() : null;
      if (st && st.totalP2PDownloaded > 0) return st;
      if (performance.now() > end) throw new Error('no bytes from peers');
      await sleep(2);
    }
  }

  function snapshot() {
    const st = last('stats');
    const pe = last('peers');
    const id = last('peerId');
    return {
      media: el ? {
        ...media,
        currentTime: el.currentTime,
        duration: Number.isFinite(el.duration) ? el.duration : 0,
        paused: el.paused,
        readyState: el.readyState,
        currentSrc: el.currentSrc,
        playbackRate: el.playbackRate,
      } : media,
      events, calls, counts, warnings, pageErrors, probe,
      stats: st ? st.payload : null,
      statsAt: st ? st.at : 0,
      peers: pe ? pe.payload : null,
      peerId: id ? id.payload : '',
      now: now(),
    };
  }

  return {
    create, tryCreate, statics, play, setRate, seek, hashes, call, probeListeners, waitPeers, firstP2PBytes, snapshot,
    proxied: (url) => engine.getProxiedUrl(new URL(url, location.href).href),
    get engine() {
      return engine;
    },
  };
})();
