// Options of `new P2PEngineMedia(p2pConfig)`: defaults, validation, and the
// configuration handed to the page wasm (docs/browser-runtime.md, WasmConfig).

import { describe } from './emitter.js';

const MiB = 1024 * 1024;

/** Every piece length is a multiple of this (16 KiB). */
export const PIECE_LENGTH_UNIT = 16 * 1024;

/** The largest piece length (16 MiB, engine/identity.MaxPieceLength). */
export const MAX_PIECE_LENGTH = 16 * MiB;

/** Log levels, from the most to the least verbose. */
export const LOG_LEVELS = Object.freeze(['debug', 'warn', 'error', 'none']);

/**
 * Public WebTorrent trackers per trackerZone, in order of preference. The
 * engine announces to several at once and de-duplicates the peers they give.
 * @type {Readonly<Record<'eu' | 'hk' | 'us', readonly string[]>>}
 */
export const TRACKER_ZONES = Object.freeze({
  eu: Object.freeze([
    'wss://tracker.novage.com.ua',
    'wss://tracker.files.fm:7073/announce',
    'wss://tracker.openwebtorrent.com',
    'wss://tracker.webtorrent.dev',
  ]),
  hk: Object.freeze([
    'wss://tracker.openwebtorrent.com',
    'wss://tracker.webtorrent.dev',
    'wss://tracker.novage.com.ua',
  ]),
  us: Object.freeze([
    'wss://tracker.webtorrent.dev',
    'wss://tracker.openwebtorrent.com',
    'wss://tracker.novage.com.ua',
  ]),
});

/**
 * ICE servers used when webRTCConfig has no iceServers: public STUN servers.
 * @type {readonly RTCIceServer[]}
 */
export const DEFAULT_ICE_SERVERS = Object.freeze([
  Object.freeze({ urls: 'stun:stun.l.google.com:19302' }),
  Object.freeze({ urls: 'stun:global.stun.twilio.com:3478' }),
]);

/** Default disk cache limits in bytes. */
export const DEFAULT_DISK_CACHE_LIMIT = Object.freeze({ pc: 1500 * MiB, mobile: 1000 * MiB });

/**
 * @typedef {'debug' | 'warn' | 'error' | 'none'} LogLevel
 * @typedef {'eu' | 'hk' | 'us'} TrackerZone
 * @typedef {(url: string) => string} ChannelIdFn
 * @typedef {(url: string) => string | null} HashListFn
 * @typedef {{peertube: true | string | HashListFn}} PeerTubeSource PeerTube's segments-sha256.json: true for the one beside each segment, one list's URL, or a function(url) returning the URL of the list of url's segment
 * @typedef {(piece: {url: string, index: number, start: number, end: number}, bytes: Uint8Array) => boolean | Promise<boolean>} ValidatePieceFn
 *
 * @typedef {object} Options the validated options, defaults filled in
 * @property {LogLevel} logLevel
 * @property {string | undefined} token
 * @property {TrackerZone} trackerZone
 * @property {string[]} announce tracker URLs: the announce option, or the zone's list
 * @property {number} pieceLength
 * @property {string | Element | undefined} mediaElem an id or an element; undefined: the first video/audio element
 * @property {boolean} p2pEnabled
 * @property {RTCConfiguration} webRTCConfig a copy, with default iceServers filled in
 * @property {string} tag
 * @property {string} swFile
 * @property {string} swScope
 * @property {boolean} showSlogan
 * @property {{pc: number, mobile: number}} diskCacheLimit bytes
 * @property {number} minBufferCount
 * @property {string | ChannelIdFn | undefined} channelId
 * @property {string | undefined} wasmBaseUrl
 * @property {string[]} allowedHosts origins (or bare hosts) whose media the service worker may proxy besides those registered by getProxiedUrl and manifests
 * @property {string | HashListFn | PeerTubeSource | undefined} hashSource the piece-hash service's base URL, a function(url) returning the URL of url's hash list, or PeerTube's lists of segment hashes
 * @property {ValidatePieceFn | undefined} validatePiece the site's check of each piece that came from peers
 * @property {((totalP2PDownloaded: number, totalP2PUploaded: number, totalHTTPDownloaded: number, p2pDownloadSpeed: number) => void) | undefined} getStats
 * @property {((peerId: string) => void) | undefined} getPeerId
 * @property {((peers: any[]) => void) | undefined} getPeersInfo
 */

/**
 * Validators per option: each gets the value (never undefined or null, which
 * mean "the default") and returns the normalized value or throws.
 * @type {Record<string, (v: any, warnings: string[]) => any>}
 */
const VALIDATORS = {
  logLevel(v) {
    if (v === true) return 'warn';
    if (v === false) return 'none';
    if (typeof v !== 'string') throw typeError('logLevel', 'one of ' + LOG_LEVELS.join(', ') + ' or a boolean', v);
    if (!LOG_LEVELS.includes(v)) throw rangeError('logLevel', 'one of ' + LOG_LEVELS.join(', ') + ' or a boolean', v);
    return v;
  },
  token(v) {
    if (typeof v !== 'string') throw typeError('token', 'a string', v);
    return v === '' ? undefined : v;
  },
  trackerZone(v) {
    const zones = Object.keys(TRACKER_ZONES);
    if (typeof v !== 'string') throw typeError('trackerZone', 'one of ' + zones.join(', '), v);
    if (!zones.includes(v)) throw rangeError('trackerZone', 'one of ' + zones.join(', '), v);
    return v;
  },
  announce(v) {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list)) throw typeError('announce', 'a tracker URL or an array of them', v);
    if (list.length === 0) throw rangeError('announce', 'at least one tracker URL', v);
    /** @type {string[]} */
    const out = [];
    for (const u of list) {
      if (typeof u !== 'string') throw typeError('announce', 'tracker URLs as strings', u);
      let parsed;
      try {
        parsed = new URL(u);
      } catch (_) {
        throw rangeError('announce', 'ws:// or wss:// tracker URLs', u);
      }
      if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
        throw rangeError('announce', 'ws:// or wss:// tracker URLs', u);
      }
      if (!out.includes(u)) out.push(u);
    }
    return out;
  },
  pieceLength(v) {
    const want = `a positive multiple of ${PIECE_LENGTH_UNIT} (16 KiB) up to ${MAX_PIECE_LENGTH} (16 MiB)`;
    if (typeof v !== 'number') throw typeError('pieceLength', want, v);
    if (!Number.isInteger(v) || v <= 0 || v % PIECE_LENGTH_UNIT !== 0 || v > MAX_PIECE_LENGTH) {
      throw rangeError('pieceLength', want, v);
    }
    return v;
  },
  mediaElem(v) {
    if (typeof v === 'string') {
      if (v === '') throw rangeError('mediaElem', 'an element id or a <video>/<audio> element', v);
      return v;
    }
    if (!isElement(v)) throw typeError('mediaElem', 'an element id or a <video>/<audio> element', v);
    if (!isMediaElement(v)) {
      throw new TypeError(
        `P2PEngineMedia: option "mediaElem" must be a <video> or <audio> element, got <${String(v.tagName).toLowerCase()}>`,
      );
    }
    return v;
  },
  p2pEnabled(v) {
    if (typeof v !== 'boolean') throw typeError('p2pEnabled', 'a boolean', v);
    return v;
  },
  webRTCConfig(v) {
    if (typeof v !== 'object' || Array.isArray(v)) throw typeError('webRTCConfig', 'an RTCConfiguration object', v);
    if (v.iceServers !== undefined && !Array.isArray(v.iceServers)) {
      throw typeError('webRTCConfig.iceServers', 'an array of RTCIceServer', v.iceServers);
    }
    return {
      ...v,
      iceServers: (v.iceServers === undefined ? DEFAULT_ICE_SERVERS : v.iceServers).map(
        (/** @type {RTCIceServer} */ s) => ({ ...s }),
      ),
    };
  },
  tag(v) {
    if (typeof v !== 'string') throw typeError('tag', 'a string', v);
    return v;
  },
  swFile(v) {
    if (typeof v !== 'string') throw typeError('swFile', 'a URL string', v);
    if (v === '') throw rangeError('swFile', 'a non-empty URL', v);
    return v;
  },
  swScope(v) {
    if (typeof v !== 'string') throw typeError('swScope', 'a URL string', v);
    if (v === '') throw rangeError('swScope', 'a non-empty URL', v);
    return v;
  },
  showSlogan(v) {
    if (typeof v !== 'boolean') throw typeError('showSlogan', 'a boolean', v);
    return v;
  },
  diskCacheLimit(v, warnings) {
    if (typeof v === 'number') {
      const n = byteCount('diskCacheLimit', v);
      return { pc: n, mobile: n };
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      throw typeError('diskCacheLimit', 'a number of bytes or {pc, mobile}', v);
    }
    const out = { pc: DEFAULT_DISK_CACHE_LIMIT.pc, mobile: DEFAULT_DISK_CACHE_LIMIT.mobile };
    for (const key of Object.keys(v)) {
      if (key !== 'pc' && key !== 'mobile') {
        warnings.push('diskCacheLimit.' + key);
        continue;
      }
      if (v[key] === undefined || v[key] === null) continue;
      out[key] = byteCount('diskCacheLimit.' + key, v[key]);
    }
    return out;
  },
  minBufferCount(v) {
    if (typeof v !== 'number') throw typeError('minBufferCount', 'a non-negative integer', v);
    if (!Number.isSafeInteger(v) || v < 0) throw rangeError('minBufferCount', 'a non-negative integer', v);
    return v;
  },
  channelId(v) {
    if (typeof v === 'function') return v;
    if (typeof v !== 'string') throw typeError('channelId', 'a string or a function(url) returning a string', v);
    if (v === '') throw rangeError('channelId', 'a non-empty string', v);
    return v;
  },
  wasmBaseUrl(v) {
    if (typeof v !== 'string') throw typeError('wasmBaseUrl', 'a URL string', v);
    if (v === '') throw rangeError('wasmBaseUrl', 'a non-empty URL', v);
    return v;
  },
  allowedHosts(v) {
    if (!Array.isArray(v)) throw typeError('allowedHosts', 'an array of origins or hosts', v);
    return v.map((h) => {
      if (typeof h !== 'string') throw typeError('allowedHosts', 'an array of origins or hosts', v);
      let u;
      try {
        u = new URL(/^https?:\/\//i.test(h) ? h : 'https://' + h);
      } catch (_) {
        u = null;
      }
      if (!u || !u.host || (u.pathname !== '/' && u.pathname !== '') || u.search || u.username) {
        throw rangeError('allowedHosts', 'origins (https://host[:port]) or hosts (host[:port])', h);
      }
      return h;
    });
  },
  hashSource(v) {
    if (typeof v === 'function') return v;
    if (typeof v === 'object' && !Array.isArray(v)) return peerTubeSource(v);
    if (typeof v !== 'string') throw typeError('hashSource', "the piece-hash service's base URL, a function(url) returning a hash list's URL, or {peertube: …}", v);
    let u;
    try {
      u = new URL(v);
    } catch (_) {
      u = null;
    }
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash) {
      throw rangeError('hashSource', 'an http(s) base URL without query', v);
    }
    return v;
  },
  validatePiece: callback('validatePiece'),
  getStats: callback('getStats'),
  getPeerId: callback('getPeerId'),
  getPeersInfo: callback('getPeersInfo'),
};

/**
 * Validates hashSource {peertube: true | URL | function}: PeerTube's lists.
 * @param {Record<string, unknown>} v
 * @returns {PeerTubeSource}
 */
function peerTubeSource(v) {
  const pt = v.peertube;
  const want = 'true, the URL of a segments-sha256.json, or a function(url) returning one';
  if (typeof pt === 'function') return { peertube: /** @type {HashListFn} */ (pt) };
  if (pt === true) return { peertube: true };
  if (typeof pt !== 'string') throw typeError('hashSource.peertube', want, pt);
  let u;
  try {
    u = new URL(pt);
  } catch (_) {
    u = null;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) throw rangeError('hashSource.peertube', 'an absolute http(s) URL', pt);
  return { peertube: pt };
}

/** The names of every option, in the order of the public API. */
export const OPTION_NAMES = Object.freeze(Object.keys(VALIDATORS));

/**
 * Validates p2pConfig and fills in the defaults. Bad values throw a TypeError
 * (wrong type) or a RangeError (right type, unusable value) whose message names
 * the option. Unknown option names do not throw: they are returned in
 * `unknown` for the caller to warn about.
 * @param {unknown} [p2pConfig]
 * @returns {{options: Options, unknown: string[]}}
 */
export function normalizeOptions(p2pConfig) {
  if (p2pConfig === undefined || p2pConfig === null) p2pConfig = {};
  if (typeof p2pConfig !== 'object' || Array.isArray(p2pConfig)) {
    throw typeError('p2pConfig', 'an object', p2pConfig);
  }
  const cfg = /** @type {Record<string, unknown>} */ (p2pConfig);
  /** @type {string[]} */
  const unknown = [];
  /** @type {Record<string, any>} */
  const given = {};
  for (const key of Object.keys(cfg)) {
    if (!Object.prototype.hasOwnProperty.call(VALIDATORS, key)) {
      unknown.push(key);
      continue;
    }
    const v = cfg[key];
    if (v === undefined || v === null) continue;
    given[key] = VALIDATORS[key](v, unknown);
  }
  if (given.channelId !== undefined && given.token === undefined) {
    throw new TypeError('P2PEngineMedia: option "channelId" requires a "token"');
  }
  const trackerZone = given.trackerZone || 'eu';
  /** @type {Options} */
  const options = {
    logLevel: given.logLevel || 'error',
    token: given.token,
    trackerZone,
    announce: given.announce || TRACKER_ZONES[/** @type {TrackerZone} */ (trackerZone)].slice(),
    pieceLength: given.pieceLength || 512 * 1024,
    mediaElem: given.mediaElem,
    p2pEnabled: given.p2pEnabled !== undefined ? given.p2pEnabled : true,
    webRTCConfig: given.webRTCConfig || VALIDATORS.webRTCConfig({}, unknown),
    tag: given.tag !== undefined ? given.tag : '',
    swFile: given.swFile || './sw.js',
    swScope: given.swScope || './',
    showSlogan: given.showSlogan !== undefined ? given.showSlogan : false,
    diskCacheLimit: given.diskCacheLimit || { pc: DEFAULT_DISK_CACHE_LIMIT.pc, mobile: DEFAULT_DISK_CACHE_LIMIT.mobile },
    minBufferCount: given.minBufferCount !== undefined ? given.minBufferCount : 0,
    channelId: given.channelId,
    wasmBaseUrl: given.wasmBaseUrl,
    allowedHosts: given.allowedHosts || [],
    hashSource: given.hashSource,
    validatePiece: given.validatePiece,
    getStats: given.getStats,
    getPeerId: given.getPeerId,
    getPeersInfo: given.getPeersInfo,
  };
  return { options, unknown };
}

/**
 * @typedef {object} WasmConfig the configuration of newEngine (docs/browser-runtime.md)
 * @property {string[]} announce
 * @property {string} [token]
 * @property {string | ChannelIdFn} [channelId]
 * @property {number} pieceLength
 * @property {RTCConfiguration} webRTCConfig
 * @property {boolean} p2pEnabled
 * @property {number} diskCacheLimit
 * @property {number} minBufferCount
 * @property {LogLevel} logLevel
 * @property {HTMLMediaElement | null} mediaElem
 * @property {string | HashListFn | PeerTubeSource} [hashSource]
 * @property {ValidatePieceFn} [validatePiece]
 */

/**
 * Builds the configuration the page wasm's newEngine takes.
 * @param {Options} o validated options
 * @param {{mobile: boolean, mediaElem: HTMLMediaElement | null, p2pEnabled: boolean, report?: (err: unknown) => void}} env
 *   mobile picks diskCacheLimit.mobile; mediaElem is the resolved element;
 *   p2pEnabled the current state; report receives errors of a channelId function
 * @returns {WasmConfig}
 */
export function toWasmConfig(o, env) {
  /** @type {WasmConfig} */
  const cfg = {
    announce: o.announce.slice(),
    pieceLength: o.pieceLength,
    webRTCConfig: o.webRTCConfig,
    p2pEnabled: env.p2pEnabled,
    diskCacheLimit: env.mobile ? o.diskCacheLimit.mobile : o.diskCacheLimit.pc,
    minBufferCount: o.minBufferCount,
    logLevel: o.logLevel,
    mediaElem: env.mediaElem,
  };
  if (o.token !== undefined) cfg.token = o.token;
  if (typeof o.channelId === 'function') cfg.channelId = safeChannelId(o.channelId, env.report);
  else if (o.channelId !== undefined) cfg.channelId = o.channelId;
  if (typeof o.hashSource === 'function') cfg.hashSource = safeHashList(o.hashSource, env.report);
  else if (typeof o.hashSource === 'object' && typeof o.hashSource.peertube === 'function') {
    cfg.hashSource = { peertube: safeHashList(o.hashSource.peertube, env.report) };
  } else if (o.hashSource !== undefined) cfg.hashSource = o.hashSource;
  if (o.validatePiece !== undefined) cfg.validatePiece = o.validatePiece;
  return cfg;
}

/**
 * Wraps a site's hashSource function so that it never throws into the wasm:
 * when it throws or returns anything but a URL string or null, the error is
 * reported and the media has no hash list (its pieces come over HTTP).
 * @param {HashListFn} fn
 * @param {(err: unknown) => void} [report]
 * @returns {HashListFn}
 */
export function safeHashList(fn, report) {
  return (url) => {
    try {
      const u = fn(url);
      if (u === null || u === undefined) return null;
      if (typeof u === 'string' && u !== '') return new URL(u, globalThis.location ? globalThis.location.href : undefined).href;
      throw new TypeError(`P2PEngineMedia: option "hashSource" returned ${describe(u)} for ${url}, not a URL or null`);
    } catch (err) {
      if (report) report(err);
    }
    return null;
  };
}

/**
 * Wraps a site's channelId function so that it never throws into the wasm:
 * when it throws or returns anything but a non-empty string, the error is
 * reported and the default channel id of the URL is used.
 * @param {ChannelIdFn} fn
 * @param {(err: unknown) => void} [report]
 * @returns {ChannelIdFn}
 */
export function safeChannelId(fn, report) {
  return (url) => {
    try {
      const id = fn(url);
      if (typeof id === 'string' && id !== '') return id;
      throw new TypeError(`P2PEngineMedia: option "channelId" returned ${describe(id)} for ${url}, not a non-empty string`);
    } catch (err) {
      if (report) report(err);
    }
    return defaultChannelId(url);
  };
}

/**
 * The default channel id of a media URL: without scheme, query and fragment
 * (engine/identity.ChannelID).
 * @param {string} url
 * @returns {string}
 */
export function defaultChannelId(url) {
  try {
    const u = new URL(url);
    return u.host + u.pathname;
  } catch (_) {
    return String(url);
  }
}

/**
 * Whether the browser reports a mobile device: navigator.userAgentData.mobile
 * where it exists, else the user agent string.
 * @param {any} [nav] navigator
 * @returns {boolean}
 */
export function isMobileDevice(nav) {
  if (!nav) return false;
  if (nav.userAgentData && typeof nav.userAgentData.mobile === 'boolean') return nav.userAgentData.mobile;
  return /Android|iPhone|iPad|iPod|Mobile|Silk|Kindle|BlackBerry|Opera Mini|IEMobile/i.test(String(nav.userAgent || ''));
}

/**
 * @param {string} name
 * @returns {(v: unknown) => Function}
 */
function callback(name) {
  return (v) => {
    if (typeof v !== 'function') throw typeError(name, 'a function', v);
    return v;
  };
}

/**
 * @param {string} name
 * @param {unknown} v
 * @returns {number}
 */
function byteCount(name, v) {
  if (typeof v !== 'number') throw typeError(name, 'a number of bytes', v);
  if (!Number.isFinite(v) || v < 0) throw rangeError(name, 'a non-negative number of bytes', v);
  return Math.floor(v);
}

/**
 * @param {any} v
 * @returns {boolean}
 */
function isElement(v) {
  return typeof v === 'object' && v !== null && v.nodeType === 1 && typeof v.tagName === 'string';
}

/**
 * Whether v is a <video> or <audio> element, by tag name so that elements of
 * other frames (other realms) count too.
 * @param {any} v
 * @returns {boolean}
 */
function isMediaElement(v) {
  const tag = v.tagName.toLowerCase();
  return tag === 'video' || tag === 'audio';
}

/**
 * @param {string} name
 * @param {string} want
 * @param {unknown} got
 */
function typeError(name, want, got) {
  return new TypeError(`P2PEngineMedia: option "${name}" must be ${want}, got ${describeGot(got)}`);
}

/**
 * @param {string} name
 * @param {string} want
 * @param {unknown} got
 */
function rangeError(name, want, got) {
  return new RangeError(`P2PEngineMedia: option "${name}" must be ${want}, got ${describeGot(got)}`);
}

/**
 * @param {unknown} got
 * @returns {string}
 */
function describeGot(got) {
  if (Array.isArray(got)) return got.length === 0 ? 'an empty array' : 'an array';
  return describe(got);
}
