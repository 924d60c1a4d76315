// The READMEs (the package's and the repository's) document every option,
// method, static and event that types/index.d.ts declares.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const js = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * The body of the first `interface name {…}` or `class name {…}` in src.
 * @param {string} src
 * @param {string} head e.g. 'export interface P2PConfig'
 */
function block(src, head) {
  const start = src.indexOf(head);
  assert.ok(start >= 0, `types/index.d.ts has no ${head}`);
  let depth = 0;
  for (let i = src.indexOf('{', start); i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) return src.slice(src.indexOf('{', start) + 1, i);
  }
  throw new Error(`unbalanced ${head}`);
}

/**
 * Names declared at the top level of a block body: `name?:`, `name(`,
 * `static name`; doc comments and nested parameter lists are skipped.
 * @param {string} body
 */
function members(body) {
  const names = new Set();
  const code = body.replace(/\/\*\*[\s\S]*?\*\//g, '');
  let depth = 0;
  let line = '';
  for (const ch of code) {
    if (ch === '(' || ch === '{' || ch === '[') depth++;
    if (ch === ')' || ch === '}' || ch === ']') depth--;
    if (ch === '\n') {
      const m = /^\s*(?:static\s+)?(?:readonly\s+)?([A-Za-z_$][\w$]*)\??\s*[:(]/.exec(line);
      if (m && m[1] !== 'constructor') names.add(m[1]);
      line = '';
    } else if (depth === 0 || (depth === 1 && ch === '(')) {
      line += ch;
    }
  }
  return [...names];
}

test('the READMEs document every option, method, static and event', async () => {
  const types = await readFile(join(js, 'types', 'index.d.ts'), 'utf8');
  const options = members(block(types, 'export interface P2PConfig'));
  const api = members(block(types, 'export declare class P2PEngineMedia'));
  const events = members(block(types, 'export interface P2PEngineMediaEvents'));
  assert.ok(options.length >= 19 && options.includes('wasmBaseUrl'), `options: ${options}`);
  assert.ok(api.includes('getProxiedUrl') && api.includes('isSupported') && api.includes('version'), `API: ${api}`);
  assert.deepEqual(events.sort(), ['exception', 'peerId', 'peers', 'serverConnected', 'stats']);
  for (const file of [join(js, 'README.md'), join(js, '..', 'README.md')]) {
    const readme = await readFile(file, 'utf8');
    for (const name of options) {
      assert.match(readme, new RegExp('^\\| `' + name + '` \\|', 'm'), `${file}: no row for option ${name}`);
    }
    for (const name of api) {
      assert.ok(readme.includes('`' + name + '(') || readme.includes('P2PEngineMedia.' + name), `${file}: ${name} is not documented`);
    }
    for (const name of events) {
      assert.match(readme, new RegExp('^\\| `' + name + '` \\|', 'm'), `${file}: no row for event ${name}`);
    }
  }
});
