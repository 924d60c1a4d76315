#!/usr/bin/env node
// Builds the browser files of the JS package into --out:
//
//   p2p-engine.js      the shim as an ES module (export default P2PEngineMedia)
//   p2p-engine.min.js  the shim as a minified classic script (globalThis.P2PEngineMedia)
//   p2p-sw.js          the service-worker loader, js/p2p-sw.js with '__VERSION__' replaced
//
// and, with --assets DIR, copies the wasm programs and wasm_exec.js from DIR
// (the Makefile's build/dist) so that --out holds a complete release. With
// --assets or --compress it writes next to each wasm program in --out its
// pre-compressed twins, NAME.br (brotli, quality 11) and NAME.gz (gzip, level
// 9), for servers that send them with Content-Encoding. It prints every
// file's size raw, gzipped and brotli'd.
//
// Usage: node js/build.mjs [--version X.Y.Z] [--out DIR] [--sw FILE] [--assets DIR] [--compress]
//
// The version defaults to the repository's VERSION file, which is also the
// version written into package.json and package-lock.json.

import { build, transform } from 'esbuild';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

const here = dirname(fileURLToPath(import.meta.url));
const repoVersionFile = join(here, '..', 'VERSION');

/** Files of a release that the Go build makes (Makefile target wasm). */
const ASSETS = ['p2p-engine.wasm', 'p2p-sw.wasm', 'wasm_exec.js'];

/** The assets that get pre-compressed twins (NAME.br, NAME.gz). */
const COMPRESSED = ['p2p-engine.wasm', 'p2p-sw.wasm'];

async function main() {
  const { values } = parseArgs({
    options: {
      version: { type: 'string' },
      out: { type: 'string', default: join(here, 'dist') },
      sw: { type: 'string', default: join(here, 'p2p-sw.js') },
      assets: { type: 'string' },
      compress: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: node build.mjs [--version X.Y.Z] [--out DIR] [--sw FILE] [--assets DIR] [--compress]');
    return;
  }
  const repoVersion = await readVersionFile();
  const version = values.version ?? repoVersion;
  if (!version) throw new Error(`no --version and no ${repoVersionFile}`);
  if (!/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(version)) throw new Error(`bad version ${JSON.stringify(version)}`);
  if (repoVersion) await syncPackageVersion(repoVersion);

  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const banner = `/*! @p2pmedia/engine v${version} | MIT License | https://github.com/p2pmedia/p2pmedia */`;
  const common = {
    bundle: true,
    platform: 'browser',
    target: ['es2019'],
    // import.meta.url locates the wasm next to the ES module.
    supported: { 'import-meta': true },
    banner: { js: banner },
    legalComments: 'none',
    logLevel: 'silent',
    write: true,
  };
  const results = await Promise.all([
    build({
      ...common,
      entryPoints: [join(here, 'src', 'index.js')],
      format: 'esm',
      outfile: join(out, 'p2p-engine.js'),
      define: { __P2P_VERSION__: JSON.stringify(version) },
    }),
    build({
      ...common,
      entryPoints: [join(here, 'src', 'global.js')],
      format: 'iife',
      minify: true,
      // Internal members are named _camelCase; __p2pmedia and the like keep their names.
      mangleProps: /^_[a-zA-Z]/,
      outfile: join(out, 'p2p-engine.min.js'),
      // A classic script has no import.meta: the shim uses document.currentScript.
      define: { __P2P_VERSION__: JSON.stringify(version), 'import.meta.url': 'undefined' },
    }),
  ]);
  for (const r of results) {
    if (r.warnings.length > 0) {
      throw new Error('esbuild warnings:\n' + r.warnings.map((w) => w.text).join('\n'));
    }
  }
  await writeLoader(values.sw, join(out, 'p2p-sw.js'), version);

  const files = ['p2p-engine.js', 'p2p-engine.min.js', 'p2p-sw.js'];
  if (values.assets) {
    for (const name of ASSETS) {
      try {
        await copyFile(join(values.assets, name), join(out, name));
      } catch (err) {
        throw new Error(`--assets: ${err.message} (the Makefile's wasm target makes it)`);
      }
      files.push(name);
    }
  }
  const twins = values.assets !== undefined || values.compress;
  if (twins && !values.assets) {
    // --compress alone: the wasm programs already in --out.
    for (const name of COMPRESSED) {
      try {
        await stat(join(out, name));
      } catch (err) {
        throw new Error(`--compress: ${err.message} (the Makefile's wasm target makes it)`);
      }
      files.push(name);
    }
  }
  // Compressing is what takes time (brotli 11 on megabytes of wasm): all
  // files at once, on libuv's thread pool.
  const sizes = await Promise.all(
    files.map(async (name) => {
      const data = await readFile(join(out, name));
      const [gz, br] = await Promise.all([compressGzip(data), compressBrotli(data)]);
      if (twins && COMPRESSED.includes(name)) {
        await writeFile(join(out, name + '.gz'), gz);
        await writeFile(join(out, name + '.br'), br);
      }
      return { name, raw: data.length, gz: gz.length, br: br.length };
    }),
  );
  for (const s of sizes) {
    console.log(`${join(out, s.name)}  ${fmt(s.raw)} raw, ${fmt(s.gz)} gzip, ${fmt(s.br)} brotli`);
  }
}

/**
 * data gzipped at level 9.
 * @param {Buffer} data
 * @returns {Promise<Buffer>}
 */
function compressGzip(data) {
  return gzipAsync(data, { level: 9 });
}

/**
 * data compressed with brotli at quality 11, in generic mode, with the
 * largest standard window.
 * @param {Buffer} data
 * @returns {Promise<Buffer>}
 */
function compressBrotli(data) {
  return brotli(data, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: zlibConstants.BROTLI_MAX_WINDOW_BITS,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
}

/**
 * Copies the service-worker loader, checking that it parses, with every
 * '__VERSION__' (either quote style) replaced by the version.
 * @param {string} src
 * @param {string} dst
 * @param {string} version
 */
async function writeLoader(src, dst, version) {
  let text;
  try {
    text = await readFile(src, 'utf8');
  } catch (err) {
    throw new Error(`service-worker loader ${src}: ${err.message}`);
  }
  try {
    await transform(text, { loader: 'js', target: 'es2019', logLevel: 'silent' });
  } catch (err) {
    throw new Error(`service-worker loader ${src} does not parse: ${err.message}`);
  }
  let n = 0;
  // The version holds no quotes or backslashes (checked in main).
  const out = text.replace(/(['"])__VERSION__\1/g, (_, q) => {
    n++;
    return q + version + q;
  });
  if (n === 0) console.warn(`build.mjs: ${src} has no '__VERSION__' placeholder`);
  await writeFile(dst, out);
}

/** @returns {Promise<string>} the repository's VERSION, "" if absent */
async function readVersionFile() {
  try {
    return (await readFile(repoVersionFile, 'utf8')).trim();
  } catch {
    return '';
  }
}

/**
 * Sets "version" in package.json and package-lock.json to version, rewriting
 * only a file whose version differs.
 * @param {string} version
 */
async function syncPackageVersion(version) {
  for (const name of ['package.json', 'package-lock.json']) {
    const file = join(here, name);
    let data;
    try {
      data = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    let changed = false;
    if (data.version !== version) {
      data.version = version;
      changed = true;
    }
    const root = data.packages && data.packages[''];
    if (root && root.version !== version) {
      root.version = version;
      changed = true;
    }
    if (changed) {
      await writeFile(file, JSON.stringify(data, null, 2) + '\n');
      console.log(`${file}: version ${version}`);
    }
  }
}

/** @param {number} n */
function fmt(n) {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(2)} MiB`;
}

main().catch((err) => {
  console.error(`build.mjs: ${err.message}`);
  process.exit(1);
});
