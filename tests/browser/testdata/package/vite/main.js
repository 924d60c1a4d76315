// A Vite site with the engine from npm:
//
//   npm install @p2pmedia/engine
//
// The engine's files (wasm, wasm_exec.js, p2p-sw.js) are served as they are,
// not bundled: the "p2p-files" script of package.json copies them into
// public/p2p/ before `vite` and `vite build`, and wasmBaseUrl says where they
// are. public/sw.js, the site's service worker, is one line that imports
// /p2p/p2p-sw.js.
import P2PEngineMedia from '@p2pmedia/engine';

const video = document.getElementById('player');
const media = new URL('/media/sample.mp4', location.href).href;
// This example's tracker runs on the same server; a site without one leaves
// announce out and gets the public trackers of trackerZone.
const tracker = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/tracker';

// What the browser test reads.
const state = (window.p2p = { version: P2PEngineMedia.version, stats: null, peers: [], exceptions: [], errors: [], src: '' });

const engine = new P2PEngineMedia({
  wasmBaseUrl: '/p2p/',
  announce: [tracker],
  webRTCConfig: { iceServers: [] },
  mediaElem: video,
  logLevel: 'warn',
});
state.engine = engine;
engine.on('stats', (s) => (state.stats = s));
engine.on('peers', (p) => (state.peers = p));
engine.on('exception', (e) => state.exceptions.push(e));
video.addEventListener('error', () => state.errors.push(video.error ? video.error.message || String(video.error.code) : 'error'));

state.src = await engine.getProxiedUrl(media);
document.getElementById('source').textContent = state.src;
video.src = state.src;
video.play().catch((e) => state.errors.push('play: ' + e.message));
