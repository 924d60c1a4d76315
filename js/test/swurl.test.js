// p2p-sw.js decodes proxied URLs by the rule of the Go programs: both are
// tested against internal/mediaurl/testdata/original.json.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadServiceWorker } from './swloader.js';

const table = JSON.parse(readFileSync(new URL('../../internal/mediaurl/testdata/original.json', import.meta.url), 'utf8'));

test('p2p-sw.js reads every proxied URL of the table as the Go programs do', () => {
  const proxy = loadServiceWorker();
  assert.ok(table.cases.length >= 10, 'the table has cases');
  for (const c of table.cases) {
    assert.equal(proxy.originalUrl(c.url) || null, c.original, c.url);
  }
});
