// Every part of the public API used the way a site would. Must compile
// (npm test runs tsc on it).

import P2PEngineMedia, {
  P2PEngineMedia as Named,
  type DiskCacheLimit,
  type ExceptionCode,
  type LogLevel,
  type P2PConfig,
  type P2PEngineMediaEvent,
  type P2PEngineMediaEvents,
  type P2PException,
  type PeerInfo,
  type Stats,
  type TrackerZone,
} from '@p2pmedia/engine';

const Same: typeof P2PEngineMedia = Named;

const version: string = P2PEngineMedia.version;
const protocolVersion: number = P2PEngineMedia.protocolVersion;
const supported: boolean =
  P2PEngineMedia.isSupported() &&
  P2PEngineMedia.isWebRTCSupported() &&
  P2PEngineMedia.isSeviceWorkerSupported() &&
  P2PEngineMedia.isServiceWorkerSupported();

const video = document.createElement('video');
const audio = document.querySelector('audio');

const level: LogLevel = 'debug';
const zone: TrackerZone = 'hk';
const limits: DiskCacheLimit = { pc: 2 * 1024 ** 3, mobile: 512 * 1024 ** 2 };

// Every option, with each kind of value it takes.
const full: P2PConfig = {
  logLevel: level,
  token: 'site-token',
  trackerZone: zone,
  announce: ['wss://tracker.example.com', 'ws://127.0.0.1:8000'],
  pieceLength: 1024 * 1024,
  mediaElem: video,
  p2pEnabled: true,
  webRTCConfig: { iceServers: [{ urls: 'stun:stun.example.com:3478' }], iceTransportPolicy: 'all' },
  tag: 'hls.js',
  swFile: '/sw.js',
  swScope: '/',
  showSlogan: false,
  diskCacheLimit: limits,
  minBufferCount: 2,
  channelId: (url: string) => new URL(url).pathname,
  wasmBaseUrl: 'https://cdn.example.com/p2p/',
  getStats(totalP2PDownloaded, totalP2PUploaded, totalHTTPDownloaded, p2pDownloadSpeed) {
    const sum: number = totalP2PDownloaded + totalP2PUploaded + totalHTTPDownloaded + p2pDownloadSpeed;
    void sum;
  },
  getPeerId(peerId) {
    const s: string = peerId;
    void s;
  },
  getPeersInfo(peers) {
    for (const p of peers) {
      const fields: [string, string, number, number] = [p.id, p.swarm, p.downloaded, p.uploaded];
      void fields;
    }
  },
};

const engines: P2PEngineMedia[] = [
  new P2PEngineMedia(),
  new P2PEngineMedia({}),
  new P2PEngineMedia(full),
  new Named({ logLevel: true, announce: 'wss://t.example', mediaElem: 'player', diskCacheLimit: 1e9, channelId: 'live', token: 't' }),
  new Same({ logLevel: false, mediaElem: audio ?? undefined, webRTCConfig: { iceServers: [] } }),
  new P2PEngineMedia({ hashSource: 'https://hashes.example.com' }),
  new P2PEngineMedia({ hashSource: (url: string) => (url.endsWith('.mp4') ? url + '.p2phashes.json' : null) }),
  new P2PEngineMedia({ hashSource: { peertube: true } }),
  new P2PEngineMedia({ hashSource: { peertube: 'https://pt.example/static/streaming-playlists/hls/u/u-segments-sha256.json' } }),
  new P2PEngineMedia({ hashSource: { peertube: (url: string) => url.replace(/[^/]*$/, 'segments-sha256.json') } }),
];

async function play(engine: P2PEngineMedia): Promise<void> {
  const src: string = await engine.getProxiedUrl('https://cdn.example.com/movie.mp4');
  video.src = src;
  engine.getProxiedUrl('https://cdn.example.com/live.m3u8').then((u) => u.toUpperCase());

  const onStats = (s: Stats) => {
    const n: number = s.totalHTTPDownloaded + s.totalP2PDownloaded + s.totalP2PUploaded + s.p2pDownloadSpeed;
    void n;
  };
  const onException = (e: P2PException) => {
    const code: ExceptionCode = e.code;
    const text: string = e.message + e.stack;
    void code;
    void text;
  };
  // Chaining: on, once and off return the engine.
  const same: P2PEngineMedia = engine
    .on('peerId', (id) => id.toLowerCase())
    .on('peers', (peers: PeerInfo[]) => peers.length)
    .on('stats', onStats)
    .on('serverConnected', (connected) => (connected ? 1 : 0))
    .on('exception', onException)
    .once('peerId', (id: string) => id)
    .once('peers', (peers) => peers.map((p) => p.id))
    .once('stats', (s) => s.p2pDownloadSpeed)
    .once('serverConnected', (b: boolean) => b)
    .once('exception', (e) => e.code === 'SW_EXPT' || e.code === 'WASM_EXPT')
    .off('stats', onStats)
    .off('exception', onException)
    .off('peers');
  void same;

  engine.disableP2P();
  engine.enableP2P();
  engine.restartP2p();
  engine.restartP2P();
  engine.destroy();
}

const events: P2PEngineMediaEvent[] = ['peerId', 'peers', 'stats', 'serverConnected', 'exception'];
const listener: P2PEngineMediaEvents['serverConnected'] = (ok) => void ok;
const codes: ExceptionCode[] = ['TRACKER_EXPT', 'SIGNAL_EXPT', 'PEER_EXPT', 'HTTP_EXPT', 'STORE_EXPT', 'SW_EXPT', 'WASM_EXPT'];

void [version, protocolVersion, supported, engines.map(play), events, listener, codes];
