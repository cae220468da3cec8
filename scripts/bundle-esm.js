'use strict';
// Replaces tsc's dist/lib/vendor/esm-only.js, which require()s the ESM-only packages, with one
// self-contained CommonJS file holding them (esbuild), plus their licences beside it. Why: the
// pack then needs no require(esm), so it runs on Node lines without it (18, 20 before 20.19), as
// the newest armv7l (Raspberry Pi OS 32-bit) Node on the npm registry is. The bundled packages are
// devDependencies: the pack never resolves them at run time (test/engines.test.ts checks that
// nothing shipped require()s them).
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

/** The direct dependencies lib/vendor/esm-only.ts re-exports; what they import comes along. */
const ENTRY_PACKAGES = ['@noble/curves', '@scure/base'];

/** Writes dist/lib/vendor/esm-only.js (CommonJS, no require() of a bundled package) and LICENSES.txt. */
function bundleEsmOnly(root, dist) {
  const outfile = path.join(dist, 'lib', 'vendor', 'esm-only.js');
  const result = esbuild.buildSync({
    entryPoints: [path.join(root, 'lib', 'vendor', 'esm-only.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    // Node-RED 4's minimum Node: esbuild lowers any newer syntax the packages use.
    target: 'node18.5',
    outfile,
    legalComments: 'inline',
    metafile: true,
    logLevel: 'silent',
  });
  // Every package with a file in the bundle (its licence goes beside it).
  const packages = [
    ...new Set(
      Object.keys(result.metafile.inputs)
        .map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1])
        .filter((p) => p !== undefined),
    ),
  ].sort();
  const missing = ENTRY_PACKAGES.filter((p) => !packages.includes(p));
  if (missing.length) throw new Error(`bundle-esm: expected ${missing.join(', ')} in the bundle`);
  const required = [...fs.readFileSync(outfile, 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]);
  if (required.length) throw new Error(`bundle-esm: the bundle still require()s ${required.join(', ')}`);
  const notices = packages.map((p) => {
    const dir = path.join(root, 'node_modules', p);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const licence = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    if (!licence) throw new Error(`bundle-esm: ${p} has no licence file`);
    return `${p}@${pkg.version} (${pkg.license})\n\n${fs.readFileSync(path.join(dir, licence), 'utf8').trim()}\n`;
  });
  fs.writeFileSync(
    path.join(dist, 'lib', 'vendor', 'LICENSES.txt'),
    'dist/lib/vendor/esm-only.js and the editor scripts in dist/nodes/*.html contain these packages:\n\n' +
      notices.join('\n' + '-'.repeat(72) + '\n\n'),
  );
  return { outfile, packages };
}

module.exports = { bundleEsmOnly };
