// Proxied URLs (docs/browser-runtime.md, "Proxied URLs").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyBase, proxiedUrl, isProxied, assetBase } from '../src/url.js';
import { loadServiceWorker } from './swloader.js';

// The service worker's decoding of proxied URLs (js/p2p-sw.js), null for
// none: what the page's proxied URLs must stand for.
const sw = loadServiceWorker();
/** @param {string} url */
const originalUrl = (url) => sw.originalUrl(url) || null;

const page = 'https://site.example/watch/movie.html?id=7#top';

test('proxyBase resolves swScope against the page and ends in a slash', () => {
  const cases = [
    ['./', 'https://site.example/watch/'],
    ['/', 'https://site.example/'],
    ['/app', 'https://site.example/app/'],
    ['/app/', 'https://site.example/app/'],
    ['../', 'https://site.example/'],
    ['sub/', 'https://site.example/watch/sub/'],
    ['./?x=1#y', 'https://site.example/watch/'],
    ['https://site.example/other/', 'https://site.example/other/'],
  ];
  for (const [scope, want] of cases) assert.equal(proxyBase(scope, page), want, scope);
  assert.equal(proxyBase('./', 'http://127.0.0.1:8080/mp4.html'), 'http://127.0.0.1:8080/');
});

test('proxiedUrl follows the contract', () => {
  const base = proxyBase('./', page);
  const cases = [
    // The contract's example.
    ['https://cdn.example.com/v/a.mp4?x=1', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/v/a.mp4?x=1'],
    ['http://cdn.example.com/a.mp4', 'https://site.example/watch/__p2pmedia__/http/cdn.example.com/a.mp4'],
    // Ports: kept unless they are the scheme's default.
    ['https://cdn.example.com:8443/a.mp4', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com:8443/a.mp4'],
    ['http://127.0.0.1:8080/media/a.mp4', 'https://site.example/watch/__p2pmedia__/http/127.0.0.1:8080/media/a.mp4'],
    ['https://cdn.example.com:443/a.mp4', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/a.mp4'],
    ['http://cdn.example.com:80/a.mp4', 'https://site.example/watch/__p2pmedia__/http/cdn.example.com/a.mp4'],
    ['http://[::1]:8080/a.mp4', 'https://site.example/watch/__p2pmedia__/http/[::1]:8080/a.mp4'],
    // Queries and fragments are kept as they are.
    ['https://cdn.example.com/a.m3u8?token=a%2Fb&x=1&x=2', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/a.m3u8?token=a%2Fb&x=1&x=2'],
    ['https://cdn.example.com/a.mp4#t=10,20', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/a.mp4#t=10,20'],
    // Paths: encoded the way the URL parser does; the root path is "/".
    ['https://cdn.example.com/my video/ü.mp4', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/my%20video/%C3%BC.mp4'],
    ['https://cdn.example.com', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/'],
    ['https://CDN.Example.com/A.mp4', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/A.mp4'],
    // Relative URLs resolve against the page.
    ['/media/a.mp4', 'https://site.example/watch/__p2pmedia__/https/site.example/media/a.mp4'],
    ['clip.mp4?q', 'https://site.example/watch/__p2pmedia__/https/site.example/watch/clip.mp4?q'],
    ['//cdn.example.com/a.mp3', 'https://site.example/watch/__p2pmedia__/https/cdn.example.com/a.mp3'],
  ];
  for (const [url, want] of cases) assert.equal(proxiedUrl(url, base, page), want, url);
});

test('proxiedUrl under other scopes', () => {
  const url = 'https://cdn.example.com/v/a.mp4?x=1';
  assert.equal(
    proxiedUrl(url, proxyBase('/', page), page),
    'https://site.example/__p2pmedia__/https/cdn.example.com/v/a.mp4?x=1',
  );
  assert.equal(
    proxiedUrl(url, proxyBase('/player', page), page),
    'https://site.example/player/__p2pmedia__/https/cdn.example.com/v/a.mp4?x=1',
  );
  assert.equal(
    proxiedUrl(url, proxyBase('../', 'http://localhost:3000/a/b/page.html'), 'http://localhost:3000/a/b/page.html'),
    'http://localhost:3000/a/__p2pmedia__/https/cdn.example.com/v/a.mp4?x=1',
  );
});

test('URLs that cannot be proxied give null', () => {
  const base = proxyBase('./', page);
  for (const url of [
    'blob:https://site.example/0b1c2d',
    'data:video/mp4;base64,AAAA',
    'ftp://cdn.example.com/a.mp4',
    'https://user:pw@cdn.example.com/a.mp4',
    'http://[bad',
    'https://',
  ]) {
    assert.equal(proxiedUrl(url, base, page), null, url);
  }
  assert.equal(proxiedUrl('/a.mp4', base), null, 'relative URL without a page');
});

test('an already proxied URL is not wrapped again', () => {
  const base = proxyBase('./', page);
  const once = proxiedUrl('https://cdn.example.com/a.mp4?x=1', base, page);
  assert.equal(proxiedUrl(once, base, page), once);
  assert.equal(proxiedUrl(once, proxyBase('/', page), page), once);
  assert.ok(isProxied(new URL(once).pathname));
  assert.ok(!isProxied('/__p2pmedia__/ftp/x'));
  assert.ok(!isProxied('/v/__p2pmedia__.mp4'));
});

test("the service worker's originalUrl inverts proxiedUrl", () => {
  const base = proxyBase('/app/', page);
  for (const url of [
    'https://cdn.example.com/v/a.mp4?x=1',
    'http://127.0.0.1:8080/media/sample.mp4',
    'https://cdn.example.com/a%2Fb/c.m3u8?sig=x%3Dy&e=1',
    'http://[::1]:9000/seg-1.ts',
    'https://cdn.example.com/',
  ]) {
    const p = /** @type {string} */ (proxiedUrl(url, base, page));
    assert.equal(originalUrl(p), url);
  }
  assert.equal(originalUrl('https://site.example/app/a.mp4'), null);
  assert.equal(originalUrl('https://site.example/__p2pmedia__/gopher/x/y'), null);
});

test('relative URIs inside a proxied playlist resolve to proxied URLs', () => {
  const playlist = /** @type {string} */ (proxiedUrl('https://cdn.example.com/hls/720p/index.m3u8?s=1', proxyBase('./', page), page));
  for (const [ref, want] of [
    ['seg-1.ts', 'https://cdn.example.com/hls/720p/seg-1.ts'],
    ['../480p/index.m3u8', 'https://cdn.example.com/hls/480p/index.m3u8'],
    ['seg-2.ts?s=1', 'https://cdn.example.com/hls/720p/seg-2.ts?s=1'],
  ]) {
    assert.equal(originalUrl(new URL(ref, playlist).href), want, ref);
  }
});

test('assetBase: the script directory, or wasmBaseUrl resolved against the page', () => {
  assert.equal(assetBase(undefined, 'https://cdn.example.com/p2p/0.1.0/p2p-engine.min.js', page), 'https://cdn.example.com/p2p/0.1.0/');
  assert.equal(assetBase(undefined, 'https://cdn.example.com/p2p/p2p-engine.js?v=1', page), 'https://cdn.example.com/p2p/');
  assert.equal(assetBase(undefined, '', page), 'https://site.example/watch/');
  assert.equal(assetBase('/static/p2p', 'https://cdn.example.com/x.js', page), 'https://site.example/static/p2p/');
  assert.equal(assetBase('https://other.example/w/', 'https://cdn.example.com/x.js', page), 'https://other.example/w/');
});
