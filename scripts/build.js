'use strict';
// Compiles the TypeScript sources to CommonJS in dist/, bundles the editor modules
// (nodes/editor, scripts/build-editor.js) into the node .html files and copies the
// locales beside the compiled nodes, where Node-RED looks for them, and bundles the ESM-only
// dependencies into dist/lib/vendor/esm-only.js (scripts/bundle-esm.js).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
// tsconfig.build.json is what the package ships (lib/, nodes/, bin/); tsconfig.test.json the
// tests, benchmarks and the npm start demo, compiled against it. nodes/editor is neither: it
// is browser code (tsconfig.editor.json).
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
// The editor modules: type-checked here (DOM lib), bundled at the end by build-editor.js.
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.editor.json')], {
  stdio: 'inherit',
});

function copyTree(from, to, keep) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst, keep);
    else if (keep(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
    }
  }
}
copyTree(path.join(root, 'nodes', 'locales'), path.join(dist, 'nodes', 'locales'), (n) => n.endsWith('.html') || n.endsWith('.json'));
copyTree(path.join(root, 'icons'), path.join(dist, 'nodes', 'icons'), (n) => n.endsWith('.svg'));
// The anchor contract, compiled from source on every build (test/anchor-artifact compares it with the checked-in one).
require('./compile-contract').writeArtifact(path.join(dist, 'contracts', 'IotLedgerAnchor.json'));
fs.chmodSync(path.join(dist, 'bin', 'iot-ledger.js'), 0o755);
// The ESM-only dependencies as one CommonJS file: the pack needs no require(esm) (scripts/bundle-esm.js).
require('./bundle-esm').bundleEsmOnly(root, dist);

require('./build-editor')
  .buildEditor(root, path.join(dist, 'nodes'))
  .catch((err) => {
    console.error(err.message);
    process.exitCode = 1;
  });
