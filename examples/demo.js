// The live stats panel of the p2pmedia demo pages. Plain JavaScript, no
// framework, no build step: a page loads it with <script src="/demo.js"> and
// calls DemoPanel.mount(...) and panel.watch(engine).
//
// It also keeps window.__demo up to date for automation (p2pmedia demo
// --viewers reads it every second):
//
//   window.__demo = {
//     stats:   {totalHTTPDownloaded, totalP2PDownloaded, totalP2PUploaded, p2pDownloadSpeed}, // KB, KB/s
//     peers:   [{id, swarm, downloaded, uploaded}],  // the last `peers` event
//     peerId:  string | null,
//     serverConnected: boolean | null,              // tracker; null until reported
//     errors:  [{code, message, time}],             // engine exceptions and page errors
//     playing: boolean, ended: boolean,
//     state:   'loading' | 'playing' | 'paused' | 'buffering' | 'ended' | 'error',
//     position: seconds, duration: seconds (0 while unknown),
//     source:  the media element's src (the proxied URL when P2P runs),
//     history: [{t, http, p2p}],                    // totals in KB, one sample a second, last 2 min
//   };
(function () {
  'use strict';

  const KB = 1024; // the engine reports sizes in KB of 1024 bytes
  const HISTORY = 120; // seconds of history in the chart
  const MIN_SPAN = 30; // seconds the chart's time axis spans at first
  const MAX_ERRORS = 50;

  // h builds an element: h('div', {class: 'x'}, child, 'text', ...).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') el.className = v;
      else el.setAttribute(k, v);
    }
    for (const c of children) {
      if (c != null) el.append(c);
    }
    return el;
  }

  function mib(kb) {
    return (kb / KB).toFixed(2);
  }

  function speed(kbps) {
    if (!kbps) return '0 KB/s';
    if (kbps >= KB) return (kbps / KB).toFixed(1) + ' MiB/s';
    return Math.round(kbps) + ' KB/s';
  }

  function size(kb) {
    if (kb >= KB) return (kb / KB).toFixed(1) + ' MiB';
    return Math.round(kb) + ' KB';
  }

  // shortId shows the end of a peer id: the start is the client's prefix,
  // the same for every peer of this engine.
  function shortId(id) {
    id = String(id || '');
    return id.length > 14 ? '…' + id.slice(-12) : id;
  }

  function clock(sec) {
    sec = Math.max(0, Math.floor(sec || 0));
    return Math.floor(sec / 60) + ':' + String(sec % 60).padStart(2, '0');
  }

  // Panel is the live stats of one page: KPIs, chart, peers and errors.
  class Panel {
    constructor(opts) {
      this.media = opts.media || null;
      this.sourceEl = opts.source || null;
      this.state = window.__demo = {
        stats: {totalHTTPDownloaded: 0, totalP2PDownloaded: 0, totalP2PUploaded: 0, p2pDownloadSpeed: 0},
        peers: [],
        peerId: null,
        serverConnected: null,
        errors: [],
        playing: false,
        ended: false,
        state: 'loading',
        position: 0,
        duration: 0,
        source: '',
        history: [],
      };
      this.buildStats(opts.stats);
      this.buildChart(opts.chart);
      this.watchMedia();
      this.watchPage();
      this.render();
      this.sample();
      this.timer = setInterval(() => this.sample(), 1000);
      window.addEventListener('resize', () => this.drawChart());
    }

    // watch subscribes to an engine's events (the public P2PEngineMedia API).
    watch(engine) {
      this.engine = engine;
      engine.on('stats', (s) => {
        Object.assign(this.state.stats, s || {});
        this.render();
      });
      engine.on('peerId', (id) => {
        this.state.peerId = id;
        this.render();
      });
      engine.on('peers', (list) => {
        this.state.peers = Array.isArray(list) ? list : [];
        this.render();
      });
      engine.on('serverConnected', (ok) => {
        this.state.serverConnected = !!ok;
        this.render();
      });
      engine.on('exception', (e) => this.error(e && e.code, e && e.message, e && e.stack));
      return this;
    }

    // error records an error of the engine, the player or the page.
    error(code, message, stack) {
      if (message instanceof Error) {
        stack = message.stack;
        message = message.message;
      }
      const errors = this.state.errors;
      errors.push({code: String(code || 'ERROR'), message: String(message || ''), stack: stack || '', time: new Date().toISOString()});
      if (errors.length > MAX_ERRORS) errors.splice(0, errors.length - MAX_ERRORS);
      this.render();
    }

    // setSource shows where the player gets its bytes.
    setSource(src) {
      this.state.source = src;
      if (this.sourceEl) {
        const proxied = src.includes('/__p2pmedia__/');
        this.sourceEl.replaceChildren(
          h('span', {class: proxied ? 'badge ok' : 'badge wait'}, proxied ? 'via service worker' : 'plain HTTP'),
          ' ', h('span', {class: 'mono'}, src));
      }
    }

    watchMedia() {
      const el = this.media;
      if (!el) return;
      const s = this.state;
      const update = () => {
        s.position = el.currentTime || 0;
        s.duration = isFinite(el.duration) ? el.duration : 0;
        if (el.error) s.state = 'error';
        else if (el.ended) s.state = 'ended';
        else if (s.playing) s.state = el.readyState < 3 ? 'buffering' : 'playing';
        else if (el.paused && el.currentTime > 0) s.state = 'paused';
        else s.state = 'loading';
        this.renderPlayback();
      };
      el.addEventListener('playing', () => { s.playing = true; s.ended = false; update(); });
      el.addEventListener('pause', () => { s.playing = false; update(); });
      el.addEventListener('ended', () => { s.playing = false; s.ended = true; update(); });
      el.addEventListener('waiting', update);
      el.addEventListener('timeupdate', update);
      el.addEventListener('durationchange', update);
      el.addEventListener('error', () => {
        const e = el.error;
        s.playing = false;
        this.error('MEDIA_ERR', e ? 'media error ' + e.code + (e.message ? ': ' + e.message : '') : 'media error');
        update();
      });
      this.updateMedia = update;
    }

    watchPage() {
      window.addEventListener('error', (e) => this.error('PAGE_ERR', e.message || String(e.error)));
      window.addEventListener('unhandledrejection', (e) => {
        const r = e.reason;
        this.error('PAGE_ERR', r instanceof Error ? r.message : String(r));
      });
    }

    // sample appends one point to the history, once a second.
    sample() {
      const st = this.state.stats;
      const hist = this.state.history;
      hist.push({t: Date.now(), http: st.totalHTTPDownloaded || 0, p2p: st.totalP2PDownloaded || 0});
      if (hist.length > HISTORY + 1) hist.splice(0, hist.length - HISTORY - 1);
      if (this.updateMedia) this.updateMedia();
      this.drawChart();
    }

    buildStats(root) {
      if (!root) return;
      const kpi = (label, unit, cls) => {
        const value = h('span');
        const el = h('div', {class: 'kpi' + (cls ? ' ' + cls : '')},
          h('div', {class: 'label'}, label),
          h('div', {class: 'value'}, value, unit ? h('small', {}, unit) : null));
        return {el, value};
      };
      this.k = {
        share: kpi('P2P share', '%', 'hero'),
        http: kpi('HTTP', 'MiB'),
        p2p: kpi('P2P', 'MiB'),
        speed: kpi('P2P speed', ''),
        up: kpi('Uploaded', 'MiB'),
      };
      this.shareBar = h('div');
      this.k.share.el.append(h('div', {class: 'share-bar'}, this.shareBar));
      const fact = (label) => {
        const dd = h('dd');
        return {el: h('div', {}, h('dt', {}, label), dd), dd};
      };
      this.f = {tracker: fact('Tracker'), peerId: fact('Peer ID'), playback: fact('Playback')};
      const statsCard = h('section', {class: 'card'},
        h('h2', {}, 'Delivery'),
        h('div', {class: 'kpis'}, ...Object.values(this.k).map((x) => x.el)),
        h('dl', {class: 'facts'}, ...Object.values(this.f).map((x) => x.el)));

      this.peerCount = h('span', {class: 'count'}, '0');
      this.peerList = h('ul', {class: 'list'});
      const peersCard = h('section', {class: 'card'}, h('h2', {}, 'Connected peers', this.peerCount), this.peerList);

      this.errorCount = h('span', {class: 'count'}, '0');
      this.errorList = h('ul', {class: 'list events'});
      const errorsCard = h('section', {class: 'card'}, h('h2', {}, 'Exceptions', this.errorCount), this.errorList);

      root.replaceChildren(statsCard, peersCard, errorsCard);
    }

    buildChart(root) {
      if (!root) return;
      this.canvas = h('canvas', {role: 'img', 'aria-label': 'HTTP and P2P bytes over time'});
      root.replaceChildren(h('section', {class: 'card chart'},
        h('div', {class: 'chart-head'},
          h('h2', {}, 'Downloaded over time', h('span', {class: 'unit'}, 'MiB, stacked')),
          h('div', {class: 'legend'},
            h('span', {class: 'http'}, h('i'), 'HTTP'),
            h('span', {class: 'p2p'}, h('i'), 'P2P'))),
        this.canvas));
    }

    render() {
      const s = this.state;
      const st = s.stats;
      if (this.k) {
        const http = st.totalHTTPDownloaded || 0;
        const p2p = st.totalP2PDownloaded || 0;
        const share = http + p2p > 0 ? (100 * p2p) / (http + p2p) : 0;
        this.k.share.value.textContent = share.toFixed(1);
        this.shareBar.style.width = share.toFixed(1) + '%';
        this.k.http.value.textContent = mib(http);
        this.k.p2p.value.textContent = mib(p2p);
        this.k.speed.value.textContent = speed(st.p2pDownloadSpeed || 0);
        this.k.up.value.textContent = mib(st.totalP2PUploaded || 0);

        const t = s.serverConnected;
        this.f.tracker.dd.replaceChildren(t === null
          ? h('span', {class: 'badge wait'}, 'connecting')
          : h('span', {class: t ? 'badge ok' : 'badge bad'}, t ? 'connected' : 'disconnected'));
        this.f.peerId.dd.replaceChildren(s.peerId ? h('span', {class: 'mono', title: s.peerId}, shortId(s.peerId)) : h('span', {class: 'muted'}, '—'));
        this.renderPlayback();

        this.peerCount.textContent = String(s.peers.length);
        this.peerList.replaceChildren(...(s.peers.length
          ? s.peers.map((p) => h('li', {},
            h('span', {class: 'mono', title: String(p.id)}, shortId(p.id)),
            h('span', {class: 'nums'},
              h('span', {class: 'down'}, '↓ ' + size(p.downloaded || 0)), '  ↑ ' + size(p.uploaded || 0))))
          : [h('li', {class: 'empty'}, 'No peers yet. Open this page in another browser to share.')]));

        this.errorCount.textContent = String(s.errors.length);
        const recent = s.errors.slice(-8).reverse();
        this.errorList.replaceChildren(...(recent.length
          ? recent.map((e) => h('li', {title: e.stack || ''},
            h('span', {class: 'code'}, e.code, h('span', {class: 'when'}, new Date(e.time).toLocaleTimeString())),
            h('span', {class: 'msg'}, e.message)))
          : [h('li', {class: 'empty'}, 'None so far.')]));
      }
    }

    renderPlayback() {
      if (!this.f) return;
      const s = this.state;
      const cls = {playing: 'ok', ended: 'ok', error: 'bad', buffering: 'wait', loading: 'wait'}[s.state] || '';
      this.f.playback.dd.replaceChildren(
        h('span', {class: 'badge ' + cls}, s.state), ' ',
        h('span', {class: 'muted small'}, clock(s.position) + (s.duration ? ' / ' + clock(s.duration) : '')));
    }

    // drawChart draws the cumulative HTTP and P2P bytes as stacked areas.
    drawChart() {
      const c = this.canvas;
      if (!c) return;
      const dpr = window.devicePixelRatio || 1;
      const w = c.clientWidth;
      const hgt = c.clientHeight;
      if (!w || !hgt) return;
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(hgt * dpr);
      }
      const g = c.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, w, hgt);

      const css = getComputedStyle(document.documentElement);
      const color = (name) => css.getPropertyValue(name).trim();
      const pad = {l: 44, r: 8, t: 8, b: 20};
      const pw = w - pad.l - pad.r;
      const ph = hgt - pad.t - pad.b;
      const hist = this.state.history;
      const top = Math.max(1, ...hist.map((p) => (p.http + p.p2p) / KB));
      const [scale, steps] = niceScale(top);
      // The time axis grows with the history up to HISTORY seconds.
      const span = Math.min(HISTORY, Math.max(MIN_SPAN, hist.length - 1));

      // Grid and labels.
      g.font = '11px system-ui, sans-serif';
      g.fillStyle = color('--muted');
      g.strokeStyle = color('--line');
      g.lineWidth = 1;
      g.textAlign = 'right';
      g.textBaseline = 'middle';
      for (let i = 0; i <= steps; i++) {
        const y = pad.t + ph - (ph * i) / steps;
        g.beginPath();
        g.moveTo(pad.l, Math.round(y) + 0.5);
        g.lineTo(pad.l + pw, Math.round(y) + 0.5);
        g.stroke();
        g.fillText(formatAxis((scale * i) / steps), pad.l - 6, y);
      }
      g.textBaseline = 'alphabetic';
      g.fillText('now', pad.l + pw, hgt - 4);
      g.textAlign = 'left';
      g.fillText('-' + span + ' s', pad.l, hgt - 4);

      if (hist.length < 2) return;
      const x = (i) => pad.l + pw - ((hist.length - 1 - i) * pw) / span;
      const y = (mibs) => pad.t + ph - (ph * mibs) / scale;
      const path = (f) => {
        g.beginPath();
        hist.forEach((p, i) => (i ? g.lineTo(x(i), y(f(p))) : g.moveTo(x(i), y(f(p)))));
      };
      const area = (lower, upper, fill) => {
        path(upper);
        for (let i = hist.length - 1; i >= 0; i--) g.lineTo(x(i), y(lower(hist[i])));
        g.closePath();
        g.fillStyle = fill;
        g.fill();
      };
      const line = (f, stroke) => {
        path(f);
        g.strokeStyle = stroke;
        g.lineWidth = 2;
        g.lineJoin = 'round';
        g.stroke();
      };
      const http = (p) => p.http / KB;
      const total = (p) => (p.http + p.p2p) / KB;
      area(() => 0, http, color('--http-fill'));
      area(http, total, color('--p2p-fill'));
      // HTTP's line last: where nothing came from peers, the top edge is HTTP's.
      line(total, color('--p2p'));
      line(http, color('--http'));
    }
  }

  // niceScale rounds v up to 1, 2 or 5 times a power of ten and returns it
  // with a number of grid steps that gives round labels.
  function niceScale(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const [m, steps] of [[1, 5], [2, 4], [5, 5], [10, 5]]) {
      if (v <= m * p) return [m * p, steps];
    }
    return [10 * p, 5];
  }

  function formatAxis(v) {
    return Number.isInteger(Math.round(v * 100) / 100) ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
  }

  window.DemoPanel = {
    // mount creates the panel: stats cards into opts.stats, the chart into
    // opts.chart, the media source line into opts.source, watching the media
    // element opts.media. Each of them is optional.
    mount(opts) {
      return new Panel(opts || {});
    },
  };
})();
