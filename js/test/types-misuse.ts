// Misuses of the API that the types must reject. Each line that follows an
// expect-error directive must fail to compile; if one ever compiles, tsc
// reports the unused directive and npm test fails.

import P2PEngineMedia from '@p2pmedia/engine';

// Options of the wrong type or value.
// @ts-expect-error logLevel is one of debug, warn, error, none, or a boolean
new P2PEngineMedia({ logLevel: 'info' });
// @ts-expect-error trackerZone is eu, hk or us
new P2PEngineMedia({ trackerZone: 'cn' });
// @ts-expect-error token is a string
new P2PEngineMedia({ token: 42 });
// @ts-expect-error announce is a string or an array of strings
new P2PEngineMedia({ announce: [new URL('wss://t.example')] });
// @ts-expect-error pieceLength is a number
new P2PEngineMedia({ pieceLength: '512KB' });
// @ts-expect-error mediaElem is a media element or an id
new P2PEngineMedia({ mediaElem: document.createElement('div') });
// @ts-expect-error p2pEnabled is a boolean
new P2PEngineMedia({ p2pEnabled: 'yes' });
// @ts-expect-error webRTCConfig is an RTCConfiguration
new P2PEngineMedia({ webRTCConfig: { iceServers: 'stun:x' } });
// @ts-expect-error tag is a string
new P2PEngineMedia({ tag: 1 });
// @ts-expect-error swFile is a string
new P2PEngineMedia({ swFile: new URL('https://a.example/sw.js') });
// @ts-expect-error swScope is a string
new P2PEngineMedia({ swScope: null });
// @ts-expect-error showSlogan is a boolean
new P2PEngineMedia({ showSlogan: 1 });
// @ts-expect-error diskCacheLimit keys are pc and mobile
new P2PEngineMedia({ diskCacheLimit: { tablet: 1 } });
// @ts-expect-error diskCacheLimit is a number or {pc, mobile}
new P2PEngineMedia({ diskCacheLimit: '1GB' });
// @ts-expect-error minBufferCount is a number
new P2PEngineMedia({ minBufferCount: '2' });
// @ts-expect-error channelId is a string or a function of the URL returning a string
new P2PEngineMedia({ token: 't', channelId: (url: string) => url.length });
// @ts-expect-error hashSource.peertube is true, a URL or a function of the URL
new P2PEngineMedia({ hashSource: { peertube: false } });
// @ts-expect-error hashSource is a URL, a function or {peertube}
new P2PEngineMedia({ hashSource: { peerTube: true } });
// @ts-expect-error wasmBaseUrl is a string
new P2PEngineMedia({ wasmBaseUrl: true });
// @ts-expect-error getStats gets numbers
new P2PEngineMedia({ getStats: (total: string) => total });
// @ts-expect-error getPeerId gets a string
new P2PEngineMedia({ getPeerId: (id: number) => id });
// @ts-expect-error getPeersInfo gets an array of peers
new P2PEngineMedia({ getPeersInfo: (peers: string) => peers });
// @ts-expect-error unknown option names are typos
new P2PEngineMedia({ p2pEnable: false });
// @ts-expect-error the config is an object
new P2PEngineMedia('eu');

const engine = new P2PEngineMedia();

// Events: unknown names and listeners of the wrong type.
// @ts-expect-error no such event
engine.on('stat', () => {});
// @ts-expect-error peerId listeners get a string
engine.on('peerId', (id: number) => id);
// @ts-expect-error stats listeners get a Stats object
engine.on('stats', (s: number) => s);
// @ts-expect-error serverConnected listeners get a boolean
engine.once('serverConnected', (ok: string) => ok);
// @ts-expect-error exception codes are a fixed set
engine.on('exception', (e) => e.code === 'OTHER_EXPT');
// @ts-expect-error peers listeners get PeerInfo objects
engine.once('peers', (peers) => peers[0].name);
// @ts-expect-error a listener is a function
engine.on('peerId', 'handler');
// @ts-expect-error off needs an event name
engine.off();

// Methods and statics.
// @ts-expect-error getProxiedUrl takes a string
engine.getProxiedUrl(new URL('https://a.example/b.mp4'));
// @ts-expect-error getProxiedUrl resolves to a string, not a URL
const u: URL = await engine.getProxiedUrl('https://a.example/b.mp4');
// @ts-expect-error enableP2P takes no arguments
engine.enableP2P(true);
// @ts-expect-error no such method
engine.start();
// @ts-expect-error version is read-only
P2PEngineMedia.version = '2.0.0';
// @ts-expect-error protocolVersion is a number
const pv: string = P2PEngineMedia.protocolVersion;
// @ts-expect-error isSupported is static
engine.isSupported();

export { u, pv };
