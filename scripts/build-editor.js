'use strict';
// Bundles the editor side of each node (nodes/editor/<node>/index.ts, which imports the same lib/
// validators the runtime uses) into the dist/nodes/iot-ledger-<node>.html that Node-RED loads:
// the script, then the form template (form.html, its <row-text>/<row-check> rows expanded by
// form-rows.js) and any style.css. Help texts and labels are in
// nodes/locales/<lang>/, copied as they are.
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const { expandRows } = require('./form-rows');

// Browsers the Node-RED 4 editor supports; lib/ code is lowered to them. ES2020, not older:
// @noble/curves (P-256 and Ed25519 key checks) needs BigInt.
const TARGET = ['es2020', 'chrome80', 'firefox78', 'safari15'];

/** Fails the build when editor code reaches a Node built-in (node:crypto, Buffer's module...). */
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(build) {
    const builtins = new Set(require('node:module').builtinModules);
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.replace(/^node:/, '');
      if (args.path.startsWith('node:') || builtins.has(bare))
        return { errors: [{ text: `the editor bundle must not import the Node built-in "${args.path}" (imported by ${args.importer})` }] };
      return undefined;
    });
  },
};

/** The IIFE bundle of one editor module; refuses Node built-ins, Buffer, require() and "</script". */
async function bundleChecked(entry) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: TARGET,
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [noNodeBuiltins],
  });
  const js = result.outputFiles[0].text;
  if (/<\/script/i.test(js)) throw new Error(`${entry}: the bundle contains "</script", which would end the HTML script element`);
  if (/\bBuffer\b|\brequire\(/.test(js)) throw new Error(`${entry}: the bundle uses Buffer or require(), which the browser does not have`);
  return js;
}

/** Writes dist/nodes/iot-ledger-<node>.html for every nodes/editor/<node>/index.ts. */
async function buildEditor(root, outDir) {
  const editorDir = path.join(root, 'nodes', 'editor');
  const written = [];
  for (const name of fs.readdirSync(editorDir).sort()) {
    const dir = path.join(editorDir, name);
    const entry = path.join(dir, 'index.ts');
    if (name === 'shared' || !fs.existsSync(entry)) continue;
    const type = `iot-ledger-${name}`;
    const parts = [`<script type="text/javascript">\n${await bundleChecked(entry)}</script>\n`];
    const form = path.join(dir, 'form.html');
    if (fs.existsSync(form))
      parts.push(`<script type="text/html" data-template-name="${type}">\n${expandRows(fs.readFileSync(form, 'utf8'), form)}</script>\n`);
    const style = path.join(dir, 'style.css');
    if (fs.existsSync(style)) parts.push(`<style>\n${fs.readFileSync(style, 'utf8')}</style>\n`);
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `${type}.html`);
    fs.writeFileSync(file, parts.join('\n'));
    written.push(file);
  }
  return written;
}

module.exports = { buildEditor, bundleChecked, TARGET };
