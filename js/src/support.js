// Feature detection: what P2P delivery needs from the browser.

/** @returns {any} */
const g = () => globalThis;

/**
 * Whether the browser has WebRTC data channels (RTCPeerConnection and
 * RTCDataChannel).
 * @returns {boolean}
 */
export function isWebRTCSupported() {
  const pc = g().RTCPeerConnection;
  if (typeof pc !== 'function') return false;
  return typeof g().RTCDataChannel === 'function' || (pc.prototype && 'createDataChannel' in pc.prototype);
}

/**
 * Whether the page can register a service worker (navigator.serviceWorker,
 * which browsers expose in secure contexts only).
 * @returns {boolean}
 */
export function isServiceWorkerSupported() {
  const nav = g().navigator;
  return !!nav && !!nav.serviceWorker && typeof nav.serviceWorker.register === 'function';
}

/**
 * Whether P2P delivery can run: WebRTC data channels, service workers,
 * streams, WebAssembly, MessageChannel and fetch, in a secure context.
 * @returns {boolean}
 */
export function isSupported() {
  const w = g();
  return (
    w.isSecureContext === true &&
    isWebRTCSupported() &&
    isServiceWorkerSupported() &&
    typeof w.ReadableStream === 'function' &&
    typeof w.WebAssembly === 'object' &&
    w.WebAssembly !== null &&
    typeof w.WebAssembly.instantiate === 'function' &&
    typeof w.MessageChannel === 'function' &&
    typeof w.fetch === 'function'
  );
}
