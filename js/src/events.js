// Events from the page wasm to the site: listeners and option callbacks.

/**
 * Names of the events of the public API.
 */
export const EVENTS = Object.freeze(['peerId', 'peers', 'stats', 'serverConnected', 'exception']);

/**
 * Exception codes. TRACKER_EXPT and SIGNAL_EXPT come from the established API;
 * the others are this engine's.
 */
export const EXCEPTION_CODES = Object.freeze({
  /** A tracker connection failed or a tracker refused an announce. */
  TRACKER_EXPT: 'TRACKER_EXPT',
  /** Signalling with a peer (offer, answer, ICE) failed. */
  SIGNAL_EXPT: 'SIGNAL_EXPT',
  /** A peer broke the protocol or its data channel failed. */
  PEER_EXPT: 'PEER_EXPT',
  /** An HTTP fetch from the origin failed. */
  HTTP_EXPT: 'HTTP_EXPT',
  /** The piece store (Cache Storage) failed. */
  STORE_EXPT: 'STORE_EXPT',
  /** The service worker could not be registered or reached. */
  SW_EXPT: 'SW_EXPT',
  /** The page wasm (wasm_exec.js, p2p-engine.wasm) failed to load or start. */
  WASM_EXPT: 'WASM_EXPT',
  /** An HLS playlist or DASH manifest is malformed; the player gets the origin's. */
  MANIFEST_EXPT: 'MANIFEST_EXPT',
});

/**
 * @typedef {object} Callbacks
 * @property {((totalP2PDownloaded: number, totalP2PUploaded: number, totalHTTPDownloaded: number, p2pDownloadSpeed: number) => void)} [getStats]
 * @property {((peerId: string) => void)} [getPeerId]
 * @property {((peers: any[]) => void)} [getPeersInfo]
 */

/**
 * Delivers one event: to the listeners registered with on/once, then to the
 * matching option callback (stats → getStats, peerId → getPeerId, peers →
 * getPeersInfo). Errors thrown by user code go to report, never to the caller.
 * @param {import('./emitter.js').Emitter} emitter
 * @param {Callbacks} callbacks
 * @param {string} event
 * @param {any} payload
 * @param {(err: unknown) => void} report
 */
export function dispatch(emitter, callbacks, event, payload, report) {
  emitter.emit(event, payload);
  try {
    switch (event) {
      case 'stats':
        if (callbacks.getStats && payload) {
          callbacks.getStats(
            payload.totalP2PDownloaded,
            payload.totalP2PUploaded,
            payload.totalHTTPDownloaded,
            payload.p2pDownloadSpeed,
          );
        }
        break;
      case 'peerId':
        if (callbacks.getPeerId) callbacks.getPeerId(payload);
        break;
      case 'peers':
        if (callbacks.getPeersInfo) callbacks.getPeersInfo(payload);
        break;
    }
  } catch (err) {
    report(err);
  }
}

/**
 * The payload of an exception event for err.
 * @param {string} code
 * @param {unknown} err
 * @returns {{code: string, message: string, stack: string}}
 */
export function exceptionPayload(code, err) {
  const e = /** @type {any} */ (err);
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  const stack = e && typeof e.stack === 'string' ? e.stack : '';
  return { code, message, stack };
}
