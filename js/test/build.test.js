// build.mjs: the three files, the injected version, and that each one loads
// the way a browser would load it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';

const run = promisify(execFile);
const js = dirname(dirname(fileURLToPath(import.meta.url)));
const VERSION = '9.8.7-test';

/** A stand-in for js/p2p-sw.js, outside the repository. */
const LOADER = `(() => {
  const proxy = self.MediaProxy = {version: '__VERSION__'};
  const again = "__VERSION__";
  self.loaded = [proxy.version, again];
})();
`;

test('build.mjs writes the ES module, the classic script and the loader', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'p2pmedia-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sw = join(dir, 'loader.js');
  await writeFile(sw, LOADER);
  const out = join(dir, 'dist');
  // What the Makefile's wasm target leaves in build/dist.
  const assets = join(dir, 'assets');
  await mkdir(assets);
  for (const name of ['p2p-engine.wasm', 'p2p-sw.wasm', 'wasm_exec.js']) await writeFile(join(assets, name), name);
  const pkgBefore = await readFile(join(js, 'package.json'), 'utf8');
  const { stdout } = await run(process.execPath, [
    join(js, 'build.mjs'), '--version', VERSION, '--out', out, '--sw', sw, '--assets', assets,
  ]);
  assert.match(stdout, /p2p-engine\.min\.js .*gzip/);
  for (const name of ['p2p-engine.wasm', 'p2p-sw.wasm', 'wasm_exec.js']) {
    assert.equal(await readFile(join(out, name), 'utf8'), name, `--assets copies ${name}`);
  }
  for (const name of ['p2p-engine.wasm', 'p2p-sw.wasm']) {
    assert.equal(gunzipSync(await readFile(join(out, name + '.gz'))).toString(), name, `${name}.gz`);
    assert.equal(brotliDecompressSync(await readFile(join(out, name + '.br'))).toString(), name, `${name}.br`);
    assert.match(stdout, new RegExp(`${name.replace('.', '\\.')} .* raw, .* gzip, .* brotli`));
  }
  await assert.rejects(readFile(join(out, 'wasm_exec.js.br')), /ENOENT/, 'only the wasm programs get twins');
  assert.equal(await readFile(join(js, 'package.json'), 'utf8'), pkgBefore, '--version does not touch package.json');

  await t.test('p2p-engine.js is an ES module with default and named exports', async () => {
    const mod = await import(pathToFileURL(join(out, 'p2p-engine.js')).href);
    assert.equal(mod.default, mod.P2PEngineMedia);
    assert.equal(mod.default.version, VERSION);
    assert.equal(mod.default.protocolVersion, 1);
    const e = new mod.default({ p2pEnabled: false });
    assert.equal(await e.getProxiedUrl('https://a.example/b.mp4'), 'https://a.example/b.mp4');
    e.destroy();
    const src = await readFile(join(out, 'p2p-engine.js'), 'utf8');
    assert.match(src, /import\.meta\.url/, 'locates the wasm from its own URL');
    assert.match(src.split('\n')[0], new RegExp(`v${VERSION.replace(/\./g, '\\.')}`));
  });

  await t.test('p2p-engine.min.js is a classic script defining globalThis.P2PEngineMedia', async () => {
    const src = await readFile(join(out, 'p2p-engine.min.js'), 'utf8');
    assert.ok(!/\bimport\.meta\b/.test(src), 'no import.meta in a classic script');
    assert.ok(!/^\s*(import|export)\s/m.test(src));
    // A page with a document whose currentScript is the shim's element.
    const context = {
      console,
      URL,
      document: {
        currentScript: { src: 'https://cdn.example.com/p2p/p2p-engine.min.js', nonce: '' },
        querySelector: () => null,
      },
    };
    context.globalThis = context;
    vm.createContext(context);
    vm.runInContext(src, context, { filename: 'p2p-engine.min.js' });
    const P = context.P2PEngineMedia;
    assert.equal(typeof P, 'function');
    assert.equal(P.version, VERSION);
    assert.equal(P.isSupported(), false);
    const e = new P({ trackerZone: 'us' });
    assert.equal(e.on('stats', () => {}), e);
    assert.equal(await e.getProxiedUrl('https://a.example/b.mp4'), 'https://a.example/b.mp4');
    assert.throws(() => new P({ pieceLength: 1 }), /pieceLength/);
    e.destroy();
  });

  await t.test('p2p-sw.js is the loader with its version filled in', async () => {
    const src = await readFile(join(out, 'p2p-sw.js'), 'utf8');
    assert.ok(!src.includes('__VERSION__'));
    const self = {};
    vm.runInNewContext(src, { self });
    assert.deepEqual([...self.loaded], [VERSION, VERSION]);
    assert.equal(self.MediaProxy.version, VERSION);
  });
});

test('build.mjs fails clearly on a missing or broken loader, or a bad version', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'p2pmedia-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const broken = join(dir, 'broken.js');
  await writeFile(broken, 'self.MediaProxy = {version: "__VERSION__"');
  const good = join(dir, 'good.js');
  await writeFile(good, LOADER);
  const cases = [
    [['--version', '1.0.0', '--sw', join(dir, 'missing.js')], /missing\.js/],
    [['--version', '1.0.0', '--sw', broken], /does not parse/],
    [['--version', '1.0"0', '--sw', broken], /bad version/],
    [['--version', '1.0.0', '--sw', good, '--assets', join(dir, 'no-assets')], /--assets: .*p2p-engine\.wasm/],
    [['--version', '1.0.0', '--sw', good, '--compress'], /--compress: .*p2p-engine\.wasm/],
  ];
  for (const [args, want] of cases) {
    await assert.rejects(
      run(process.execPath, [join(js, 'build.mjs'), '--out', join(dir, 'out'), ...args]),
      (err) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, want);
        return true;
      },
    );
  }
});

test('build.mjs takes the version of the VERSION file and writes it into package.json and the lock', async (t) => {
  // A copy of js/ next to its own VERSION file, so the real files stay as they are.
  const dir = await mkdtemp(join(tmpdir(), 'p2pmedia-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const copy = join(dir, 'js');
  await mkdir(copy);
  for (const name of ['build.mjs', 'src', 'package.json', 'package-lock.json']) {
    await cp(join(js, name), join(copy, name), { recursive: true });
  }
  await symlink(join(js, 'node_modules'), join(copy, 'node_modules'));
  await writeFile(join(dir, 'VERSION'), '3.4.5\n');
  const sw = join(dir, 'loader.js');
  await writeFile(sw, LOADER);

  await run(process.execPath, [join(copy, 'build.mjs'), '--out', join(dir, 'out'), '--sw', sw]);
  const pkg = JSON.parse(await readFile(join(copy, 'package.json'), 'utf8'));
  const lock = JSON.parse(await readFile(join(copy, 'package-lock.json'), 'utf8'));
  assert.equal(pkg.version, '3.4.5');
  assert.equal(lock.version, '3.4.5');
  assert.equal(lock.packages[''].version, '3.4.5');
  const original = JSON.parse(await readFile(join(js, 'package.json'), 'utf8'));
  assert.deepEqual({ ...pkg, version: original.version }, original, 'nothing else changes');
  assert.match(await readFile(join(dir, 'out', 'p2p-engine.min.js'), 'utf8'), /"3\.4\.5"/);
  assert.match(await readFile(join(dir, 'out', 'p2p-sw.js'), 'utf8'), /'3\.4\.5'/);
});
