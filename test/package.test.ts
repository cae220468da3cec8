import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './support/paths';

// What the npm package is: its public entry points (exports), the files it ships, and no
// lifecycle script that runs for whoever installs it.

interface PackageJson {
  name: string;
  main: string;
  exports: Record<string, unknown>;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  'node-red': { nodes: Record<string, string>; plugins: Record<string, string> };
}

const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as PackageJson;

function packedFiles(): string[] {
  const npm = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const out = execFileSync(npm[0], [...npm.slice(1), 'pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: projectRoot, encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
}

describe('package: entry points and shipped files', function () {
  this.timeout(60000);

  it('exports the library, the CLI and package.json, and nothing else', () => {
    assert.deepEqual(Object.keys(pkg.exports), ['.', './cli', './package.json']);
    // Resolved by the package's own name, as a user's require() does.
    const self = require.resolve(pkg.name, { paths: [projectRoot] });
    assert.equal(self, path.join(projectRoot, 'dist', 'lib', 'index.js'));
    assert.equal(path.join(projectRoot, pkg.main), self);
    assert.equal(require.resolve(`${pkg.name}/cli`, { paths: [projectRoot] }), path.join(projectRoot, pkg.bin['iot-ledger']));
    assert.throws(() => require.resolve(`${pkg.name}/dist/lib/crypto/keys.js`, { paths: [projectRoot] }), /ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lib = require(self) as Record<string, unknown>;
    for (const name of ['generateKey', 'keyToDid', 'signEnvelope', 'verifyEnvelope', 'Ledger', 'auditLedger', 'merkle', 'contracts'])
      assert.ok(name in lib, `the library exports ${name}`);
  });

  it('runs no script on install: no prepare (the build runs before pack, publish, test and start)', () => {
    for (const s of ['prepare', 'preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts[s], undefined, s);
    assert.match(pkg.scripts.prepack, /scripts\/build\.js/);
    assert.match(pkg.scripts.test, /^npm run build && /);
    assert.match(fs.readFileSync(path.join(projectRoot, 'scripts', 'start.js'), 'utf8'), /require\('\.\/build\.js'\)/);
  });

  it('ships what Node-RED loads and the library, without tests, the demo or source maps', () => {
    const files = packedFiles();
    for (const file of [...Object.values(pkg['node-red'].nodes), ...Object.values(pkg['node-red'].plugins)]) {
      assert.ok(files.includes(file), file);
      assert.ok(files.includes(file.replace(/\.js$/, '.html')), `${file}: its editor file`);
    }
    assert.ok(files.includes('dist/lib/index.js') && files.includes('dist/lib/index.d.ts'));
    assert.ok(files.includes(pkg.bin['iot-ledger']));
    const unwanted = files.filter((f) => /^dist\/(test|bench|demo)\/|\.map$|\.tsbuildinfo$|^test\/|^demo\/|^(lib|nodes|bin)\/.*\.ts$/.test(f));
    assert.deepEqual(unwanted, []);
  });
});
