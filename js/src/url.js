// Proxied URLs (docs/browser-runtime.md, "Proxied URLs").

/** The path segment that marks a proxied URL. */
export const PROXY_SEGMENT = '__p2pmedia__';

/**
 * The base every proxied URL starts with: swScope resolved against the page's
 * location, without query or fragment, ending in "/".
 * @param {string} swScope
 * @param {string} location the page's URL
 * @returns {string}
 */
export function proxyBase(swScope, location) {
  const u = new URL(swScope, location);
  u.search = '';
  u.hash = '';
  const s = u.href;
  return s.endsWith('/') ? s : s + '/';
}

/**
 * The proxied form of url:
 * `<base>__p2pmedia__/<scheme>/<host[:port]><path><?query><#fragment>`.
 * url is resolved against location first, so relative URLs work. Returns
 * null for URLs the service worker cannot proxy (not http or https, with
 * credentials, unparsable); a URL that is already proxied is returned as is.
 * @param {string} url
 * @param {string} base from proxyBase
 * @param {string} [location] the page's URL, to resolve a relative url
 * @returns {string | null}
 */
export function proxiedUrl(url, base, location) {
  let u;
  try {
    u = new URL(url, location);
  } catch (_) {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username !== '' || u.password !== '') return null;
  if (isProxied(u.pathname)) return u.href;
  return base + PROXY_SEGMENT + '/' + u.protocol.slice(0, -1) + '/' + u.host + u.pathname + u.search + u.hash;
}

/**
 * Whether a URL path is one the service worker handles: it contains
 * `/__p2pmedia__/` followed by `http/` or `https/`.
 * @param {string} path
 * @returns {boolean}
 */
export function isProxied(path) {
  return path.includes('/' + PROXY_SEGMENT + '/http/') || path.includes('/' + PROXY_SEGMENT + '/https/');
}

/**
 * A base URL for files next to a script: the directory of scriptUrl, or
 * override (resolved against location) when given; always ending in "/".
 * @param {string | undefined} override the wasmBaseUrl option
 * @param {string} scriptUrl the shim's own URL ("" if unknown)
 * @param {string} location the page's URL
 * @returns {string}
 */
export function assetBase(override, scriptUrl, location) {
  if (override) {
    const s = new URL(override, location).href;
    return s.endsWith('/') ? s : s + '/';
  }
  return new URL('./', scriptUrl || location).href;
}
