// Type definitions for @p2pmedia/engine: the P2PEngineMedia API.
//
// A page adds the engine and asks it for the URL to give its player:
//
//   const engine = new P2PEngineMedia({ trackerZone: 'eu' });
//   video.src = await engine.getProxiedUrl('https://cdn.example.com/movie.mp4');
//
// and its own sw.js, served from its origin, is one line:
//
//   self.importScripts('/dist/p2p-sw.js');

/** How much the engine logs to the console. `'debug'` logs the most. */
export type LogLevel = 'debug' | 'warn' | 'error' | 'none';

/** Region whose public WebTorrent trackers the engine uses by default. */
export type TrackerZone = 'eu' | 'hk' | 'us';

/** Disk cache limits in bytes, per kind of device. */
export interface DiskCacheLimit {
  /** Limit on desktop computers. Default 1500 MiB (1572864000). */
  pc?: number;
  /** Limit on phones and tablets. Default 1000 MiB (1048576000). */
  mobile?: number;
}

/** Options of `new P2PEngineMedia(p2pConfig)`. Every one is optional. */
export interface P2PConfig {
  /**
   * What to log: `'debug'`, `'warn'`, `'error'` or `'none'`; `true` means
   * `'warn'`, `false` means `'none'`.
   * @default 'error'
   */
  logLevel?: LogLevel | boolean;
  /**
   * The site's token. Peers with different tokens never share; a custom
   * `channelId` requires one.
   * @default undefined
   */
  token?: string;
  /**
   * Picks the default list of public WebTorrent trackers; `announce`
   * overrides it.
   * @default 'eu'
   */
  trackerZone?: TrackerZone;
  /**
   * Tracker URLs (`ws://` or `wss://`), one or several, used instead of the
   * `trackerZone` list.
   * @default the trackers of trackerZone
   */
  announce?: string | string[];
  /**
   * Piece length in bytes: a positive multiple of 16384 (16 KiB), at most
   * 16 MiB. Peers share only with peers of the same piece length.
   * @default 524288 (512 KiB)
   */
  pieceLength?: number;
  /**
   * The player's media element, or its id. The engine reads its playhead to
   * set the deadlines of the pieces ahead.
   * @default the page's first `<video>` or `<audio>` element
   */
  mediaElem?: string | HTMLMediaElement;
  /**
   * Whether P2P starts with the engine. With `false`, media comes over
   * plain HTTP until `enableP2P()`.
   * @default true
   */
  p2pEnabled?: boolean;
  /**
   * Configuration of the peer connections. Without `iceServers`, public
   * STUN servers are used; `iceServers: []` uses none.
   * @default {}
   */
  webRTCConfig?: RTCConfiguration;
  /**
   * A label of the site's choosing for this engine (player name, version…).
   * @default ''
   */
  tag?: string;
  /**
   * URL of the site's service worker script, which imports p2p-sw.js. It
   * must be served from the page's origin.
   * @default './sw.js'
   */
  swFile?: string;
  /**
   * Scope of the service worker registration; proxied URLs start with it.
   * @default './'
   */
  swScope?: string;
  /**
   * Print a one-line slogan to the console once.
   * @default false
   */
  showSlogan?: boolean;
  /**
   * How many bytes of media the engine may keep in Cache Storage: one number
   * for every device, or a limit per kind of device. Negative values are
   * rejected.
   * @default { pc: 1500 MiB, mobile: 1000 MiB }
   */
  diskCacheLimit?: number | DiskCacheLimit;
  /**
   * Number of pieces ahead of the playhead that are always fetched over HTTP
   * when missing, whatever peers hold; a non-negative integer.
   * @default 0
   */
  minBufferCount?: number;
  /**
   * A custom channel id, or a function of the media URL returning one.
   * Viewers share with viewers of the same channel. Requires `token`.
   * @default the media URL without scheme and query string
   */
  channelId?: string | ((url: string) => string);
  /**
   * Where `wasm_exec.js` and `p2p-engine.wasm` are.
   * @default the directory of the shim's own script
   */
  wasmBaseUrl?: string;
  /**
   * Origins (`https://cdn.example.com`) or hosts (`cdn.example.com`, both
   * schemes) whose media the service worker may proxy besides those the
   * engine registers itself (the URLs given to `getProxiedUrl` and the
   * origins their manifests name). The service worker serves no other.
   * @default []
   */
  allowedHosts?: string[];
  /**
   * Where the publisher's piece hashes come from: the base URL of a
   * piece-hash service (`p2pmedia hashes`, or its Cloudflare Workers build),
   * or a function of the media URL returning the URL of its hash list (the
   * JSON `p2pmedia hash` writes), or null for none. With it, no byte from a
   * peer reaches the player before its piece matched its hash; a peer that
   * sends a bad piece is banned (a `PEER_EXPT` exception).
   *
   * `{peertube: …}` takes PeerTube's `segments-sha256.json`, the SHA-256 of
   * each whole segment file (live streams) or of each byte-range segment of
   * a VOD file: `true` for the list in the directory of each segment, the
   * URL of one list, or a function of the segment URL returning its list's
   * URL or null. Bytes from peers of a segment (of at most 32 MiB) reach the
   * player once the whole segment has come and matched its hash.
   * @default none: bytes from peers are not verified
   */
  hashSource?: string | ((url: string) => string | null) | { peertube: true | string | ((url: string) => string | null) };
  /**
   * The site's own check of every piece that came from peers, called with
   * the piece's URL and byte range and a copy of its bytes: `true` (or a
   * promise of it, within 5 s) accepts it; anything else refuses it, and
   * the peer that sent it is banned.
   * @default none
   */
  validatePiece?: (
    piece: { url: string; index: number; start: number; end: number },
    bytes: Uint8Array,
  ) => boolean | Promise<boolean>;
  /**
   * Called with the running totals whenever the engine reports stats
   * (the same values as the `stats` event).
   * @param totalP2PDownloaded KB received from peers
   * @param totalP2PUploaded KB sent to peers
   * @param totalHTTPDownloaded KB fetched over HTTP
   * @param p2pDownloadSpeed KB/s currently received from peers
   */
  getStats?: (
    totalP2PDownloaded: number,
    totalP2PUploaded: number,
    totalHTTPDownloaded: number,
    p2pDownloadSpeed: number,
  ) => void;
  /** Called with this viewer's peer id once it has one (the `peerId` event). */
  getPeerId?: (peerId: string) => void;
  /** Called with the connected peers whenever they change (the `peers` event). */
  getPeersInfo?: (peers: PeerInfo[]) => void;
}

/** Transfer totals of an engine. */
export interface Stats {
  /** KB fetched over HTTP. */
  totalHTTPDownloaded: number;
  /** KB received from peers. */
  totalP2PDownloaded: number;
  /** KB sent to peers. */
  totalP2PUploaded: number;
  /** KB/s currently received from peers. */
  p2pDownloadSpeed: number;
}

/** A connected peer. */
export interface PeerInfo {
  /** The peer's id. */
  id: string;
  /** The swarm (channel) shared with it. */
  swarm: string;
  /** KB received from this peer. */
  downloaded: number;
  /** KB sent to this peer. */
  uploaded: number;
}

/**
 * Codes of the `exception` event:
 * - `TRACKER_EXPT`: a tracker connection failed or a tracker refused an announce.
 * - `SIGNAL_EXPT`: signalling with a peer (offer, answer, ICE) failed.
 * - `PEER_EXPT`: a peer broke the protocol or its data channel failed.
 * - `HTTP_EXPT`: an HTTP fetch from the origin failed.
 * - `STORE_EXPT`: the piece store (Cache Storage) failed.
 * - `SW_EXPT`: the service worker could not be registered or reached.
 * - `WASM_EXPT`: wasm_exec.js or p2p-engine.wasm failed to load or start.
 * - `MANIFEST_EXPT`: an HLS playlist or DASH manifest is malformed; the player
 *   gets the origin's text and handles it as it would without the engine.
 *
 * None of them stops playback: media goes on over HTTP.
 */
export type ExceptionCode =
  | 'TRACKER_EXPT'
  | 'SIGNAL_EXPT'
  | 'PEER_EXPT'
  | 'HTTP_EXPT'
  | 'STORE_EXPT'
  | 'SW_EXPT'
  | 'WASM_EXPT'
  | 'MANIFEST_EXPT';

/** Payload of the `exception` event. */
export interface P2PException {
  /** What failed. */
  code: ExceptionCode;
  /** A human-readable description. */
  message: string;
  /** Where it failed, when known ('' otherwise). */
  stack: string;
}

/** The events of an engine and their listeners. */
export interface P2PEngineMediaEvents {
  /** This viewer's peer id, once the engine has one. */
  peerId: (peerId: string) => void;
  /** The connected peers, whenever they change. */
  peers: (peers: PeerInfo[]) => void;
  /** Transfer totals, reported periodically. */
  stats: (stats: Stats) => void;
  /** Whether the engine is connected to a tracker, whenever that changes. */
  serverConnected: (connected: boolean) => void;
  /** Something failed; playback goes on over HTTP. */
  exception: (error: P2PException) => void;
}

/** Names of the engine's events. */
export type P2PEngineMediaEvent = keyof P2PEngineMediaEvents;

/**
 * The P2P media engine of a page. Viewers of the same media share the bytes
 * they already have over WebRTC data channels, through the site's service
 * worker; playback is never worse than plain HTTP.
 */
export declare class P2PEngineMedia {
  /**
   * Creates the engine and, when the browser supports it and `p2pEnabled`
   * is true, starts it: registers the service worker and loads the wasm.
   * @throws {TypeError} when an option has the wrong type (the message names it)
   * @throws {RangeError} when an option's value is unusable, e.g. a negative
   *   `diskCacheLimit` or a `pieceLength` that is not a positive multiple of 16 KiB
   */
  constructor(p2pConfig?: P2PConfig);

  /** The release version of the engine, e.g. `'0.1.0'`. */
  static readonly version: string;
  /** The version of the peer protocol; peers of different versions never meet. */
  static readonly protocolVersion: number;
  /**
   * Whether P2P delivery can run here: WebRTC data channels, service
   * workers, streams and WebAssembly, in a secure context.
   */
  static isSupported(): boolean;
  /** Whether the browser has WebRTC data channels. */
  static isWebRTCSupported(): boolean;
  /** Whether the page can register a service worker (the established spelling). */
  static isSeviceWorkerSupported(): boolean;
  /** Whether the page can register a service worker. */
  static isServiceWorkerSupported(): boolean;

  /**
   * The URL to give the player for `url`: the proxied URL
   * (`<swScope>__p2pmedia__/<scheme>/<host><path>?<query>`) when P2P runs,
   * else `url` itself (unsupported browser, P2P disabled, service worker not
   * in control, wasm not loaded, destroyed engine, any error). Waits for the
   * engine to start. Never rejects.
   */
  getProxiedUrl(url: string): Promise<string>;
  /** Resumes P2P after `disableP2P()` (or starts it when `p2pEnabled` was false). */
  enableP2P(): void;
  /**
   * Stops P2P and frees its resources. Media already playing goes on over
   * HTTP; `getProxiedUrl` gives original URLs until `enableP2P()`.
   */
  disableP2P(): void;
  /** Restarts P2P: reconnects to the trackers and renews the peers; resumes P2P after `disableP2P()`. */
  restartP2p(): void;
  /** Same as `restartP2p()`. */
  restartP2P(): void;
  /**
   * Stops everything (peers, trackers, ports to the service worker) and
   * removes every listener. The engine cannot be used afterwards.
   */
  destroy(): void;

  /** Adds a listener for this viewer's peer id. */
  on(event: 'peerId', listener: (peerId: string) => void): this;
  /** Adds a listener for the list of connected peers. */
  on(event: 'peers', listener: (peers: PeerInfo[]) => void): this;
  /** Adds a listener for the transfer totals. */
  on(event: 'stats', listener: (stats: Stats) => void): this;
  /** Adds a listener for the tracker connection state. */
  on(event: 'serverConnected', listener: (connected: boolean) => void): this;
  /** Adds a listener for failures. */
  on(event: 'exception', listener: (error: P2PException) => void): this;

  /** Adds a listener for this viewer's peer id, called once. */
  once(event: 'peerId', listener: (peerId: string) => void): this;
  /** Adds a listener for the list of connected peers, called once. */
  once(event: 'peers', listener: (peers: PeerInfo[]) => void): this;
  /** Adds a listener for the transfer totals, called once. */
  once(event: 'stats', listener: (stats: Stats) => void): this;
  /** Adds a listener for the tracker connection state, called once. */
  once(event: 'serverConnected', listener: (connected: boolean) => void): this;
  /** Adds a listener for failures, called once. */
  once(event: 'exception', listener: (error: P2PException) => void): this;

  /** Removes a listener (every listener of the event when none is given). */
  off(event: 'peerId', listener?: (peerId: string) => void): this;
  /** Removes a listener (every listener of the event when none is given). */
  off(event: 'peers', listener?: (peers: PeerInfo[]) => void): this;
  /** Removes a listener (every listener of the event when none is given). */
  off(event: 'stats', listener?: (stats: Stats) => void): this;
  /** Removes a listener (every listener of the event when none is given). */
  off(event: 'serverConnected', listener?: (connected: boolean) => void): this;
  /** Removes a listener (every listener of the event when none is given). */
  off(event: 'exception', listener?: (error: P2PException) => void): this;
}

export default P2PEngineMedia;
