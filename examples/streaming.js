// What the HLS and DASH demo pages share: starting the engine as mp4.html
// does, the stats panel (demo.js), the query parameters, and the parts of
// window.__demo that automation reads besides the panel's.
//
// Query parameters:
//   autoplay=1  play at once (muted)
//   level=N     play rendition N only, ABR off; renditions are numbered by
//               bandwidth from the lowest, 0 (the same in every player)
//   rate=R      playbackRate R once playback starts
//   buffer=S    keep at most S seconds buffered ahead
//   src=URL     play this stream instead of the page's sample (http or https,
//               or a path on this site)
//   p2p=0       no engine: the player loads the origin's URL (a baseline)
//
// window.__demo gains:
//   player:  the player's name
//   levels:  [{index, height, bandwidth}], bandwidth ascending
//   level:   the index of the rendition playing, or -1
//   frags:   [{url, type, level, sn, bytes, sha256, t}], one per segment the
//            player received, with the SHA-256 of the bytes it got (hex)
//   stalls:  'waiting' events after the first 'playing' (seeks excepted)
//   stallLog: [{t, position}]
//   playerErrors: [{t, fatal, type, details, url, status, message}], the
//            player's own error events
//   switches: [{t, to, position}]
//   switchLevel(n): switch to rendition n at the next segment, ABR off
//   p2p:     whether the engine runs on this page
(function () {
  'use strict';

  const MAX_FRAGS = 2000;

  function hex(buf) {
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // copyBytes returns a copy of an ArrayBuffer or a view's bytes, taken at
  // once: players hand the buffer on to their demuxer, which may transfer
  // it to a worker or rewrite it.
  function copyBytes(data) {
    if (data instanceof ArrayBuffer) return data.slice(0);
    if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    return null;
  }

  function params() {
    const q = new URLSearchParams(location.search);
    const num = (name) => {
      const v = q.get(name);
      if (v === null || v === '') return null;
      const n = Number(v);
      return Number.isFinite(n) && n >= 0 ? n : null;
    };
    let src = null;
    const s = q.get('src');
    if (s) {
      const u = new URL(s, location.href);
      if (u.protocol === 'http:' || u.protocol === 'https:') src = u.href;
    }
    const level = num('level');
    return {
      autoplay: q.get('autoplay') === '1',
      level: level === null ? null : Math.floor(level),
      rate: num('rate'),
      buffer: num('buffer'),
      src,
      p2p: q.get('p2p') !== '0',
      log: q.get('log') || 'warn',
    };
  }

  // start runs a streaming demo page. opts:
  //   player:     the player's name (window.__demo.player)
  //   defaultSrc: the sample stream's path on this site
  //   video:      the media element
  //   attach(src, ctx): starts the player on src; returns {switchLevel(n)}
  //               (may be async). ctx: {video, params, demo, record(info,
  //               data), playerError(e), setLevels(list), setLevel(i), play()}
  async function start(opts) {
    const video = opts.video;
    const p = params();
    const demo = DemoPanel.mount({
      media: video,
      stats: document.getElementById('stats'),
      chart: document.getElementById('chart'),
      source: document.getElementById('source'),
    });
    const st = window.__demo;
    Object.assign(st, {
      player: opts.player,
      levels: [],
      level: -1,
      frags: [],
      stalls: 0,
      stallLog: [],
      playerErrors: [],
      switches: [],
      p2p: false,
      switchLevel: () => false,
    });

    let playedOnce = false;
    video.addEventListener('playing', () => {
      playedOnce = true;
      if (p.rate && video.playbackRate !== p.rate) video.playbackRate = p.rate;
    });
    video.addEventListener('waiting', () => {
      if (!playedOnce || video.seeking || video.ended) return;
      st.stalls++;
      st.stallLog.push({t: Date.now(), position: video.currentTime});
    });

    const ctx = {
      video,
      params: p,
      demo,
      // record hashes what the player received for one segment.
      record(info, data) {
        const bytes = copyBytes(data);
        if (!bytes) return;
        const entry = Object.assign({bytes: bytes.byteLength, sha256: '', t: Date.now()}, info);
        st.frags.push(entry);
        if (st.frags.length > MAX_FRAGS) st.frags.splice(0, st.frags.length - MAX_FRAGS);
        crypto.subtle.digest('SHA-256', bytes).then((d) => { entry.sha256 = hex(d); },
          (e) => { entry.sha256 = 'error: ' + e.message; });
      },
      playerError(e) {
        const entry = Object.assign({t: Date.now(), fatal: false, type: '', details: '', url: '', status: 0, message: ''}, e);
        st.playerErrors.push(entry);
        if (entry.fatal) demo.error('PLAYER_ERR', entry.details + (entry.message ? ': ' + entry.message : ''));
      },
      setLevels(list) {
        st.levels = list.slice().sort((a, b) => a.bandwidth - b.bandwidth).map((l, i) => Object.assign({}, l, {index: i}));
      },
      setLevel(i) {
        st.level = i;
      },
      play() {
        if (!p.autoplay) return;
        video.muted = true;
        video.play().catch((e) => demo.error('PLAY_ERR', e));
      },
    };

    const streamURL = p.src || new URL(opts.defaultSrc, location).href;
    const trackerURL = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/tracker';
    let src = streamURL;
    if (p.p2p) {
      try {
        if (typeof P2PEngineMedia !== 'function') {
          throw new Error('/dist/p2p-engine.min.js did not load: run "make build"; playing over plain HTTP');
        }
        document.getElementById('version').textContent = 'engine ' + P2PEngineMedia.version;
        // The demo's own tracker, on this server; no STUN: peers meet on the local network.
        const engine = new P2PEngineMedia({
          announce: [trackerURL],
          webRTCConfig: {iceServers: []},
          hashSource: location.origin + '/__hashes',
          logLevel: p.log,
          mediaElem: video,
        });
        demo.watch(engine);
        src = await engine.getProxiedUrl(streamURL);
        st.p2p = src !== streamURL;
      } catch (e) {
        demo.error('PAGE_ERR', e);
      }
    }
    demo.setSource(src);
    try {
      const player = await opts.attach(src, ctx);
      st.switchLevel = (n) => {
        const ok = !!(player && player.switchLevel(n));
        if (ok) st.switches.push({t: Date.now(), to: n, position: video.currentTime});
        return ok;
      };
    } catch (e) {
      demo.error('PAGE_ERR', e);
    }
  }

  // hlsjs attaches hls.js to the page's video: the attach of start for the
  // hls.js pages (HLS VOD and live). Its segment loader records each segment,
  // the renditions are numbered by bandwidth, and errors go to the panel.
  function hlsjs(src, ctx) {
    const p = ctx.params;
    if (!window.Hls || !Hls.isSupported()) {
      throw new Error('hls.js did not load (run "npm ci" in examples/) or this browser lacks Media Source Extensions');
    }
    const config = {lowLatencyMode: false};
    if (p.buffer !== null) {
      config.maxBufferLength = p.buffer;
      config.maxMaxBufferLength = p.buffer;
    }
    // The renditions by bandwidth, lowest first, with hls.js's own indexes.
    let order = [];
    const mine = (hlsIndex) => order.findIndex((l) => l.i === hlsIndex);
    // The segment loader records each segment's bytes as hls.js receives
    // them, before its demuxer takes (transfers) the buffer.
    config.fLoader = class extends Hls.DefaultConfig.loader {
      load(context, loadConfig, callbacks) {
        const f = context.frag;
        super.load(context, loadConfig, Object.assign({}, callbacks, {
          onSuccess(response, stats, c, details) {
            if (f) ctx.record({url: f.url, type: f.type, level: f.type === 'main' ? mine(f.level) : f.level, sn: f.sn}, response.data);
            return callbacks.onSuccess(response, stats, c, details);
          },
        }));
      }
    };
    const hls = new Hls(config);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      order = hls.levels.map((l, i) => ({i, height: l.height, bandwidth: l.bitrate}))
        .sort((a, b) => a.bandwidth - b.bandwidth);
      ctx.setLevels(order.map((l) => ({height: l.height, bandwidth: l.bandwidth})));
      if (p.level !== null && order[p.level]) hls.currentLevel = order[p.level].i;
      ctx.play();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => ctx.setLevel(mine(d.level)));
    hls.on(Hls.Events.ERROR, (_, d) => {
      const r = d.response || {};
      ctx.playerError({
        fatal: !!d.fatal,
        type: String(d.type || ''),
        details: String(d.details || ''),
        url: (d.frag && d.frag.url) || d.url || (d.context && d.context.url) || '',
        status: typeof r.code === 'number' ? r.code : 0,
        message: d.error ? String(d.error.message || d.error) : String(d.reason || ''),
      });
    });
    hls.loadSource(src);
    hls.attachMedia(ctx.video);
    return {
      switchLevel(n) {
        if (!order[n]) return false;
        hls.nextLevel = order[n].i; // from the next segment on; ABR stays off
        return true;
      },
    };
  }

  window.StreamingDemo = {start, hlsjs};
})();
