import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './support/paths';

// The shipped CommonJS needs no require(esm): the ESM-only @noble/* and @scure/base are bundled
// into dist/lib/vendor/esm-only.js (scripts/bundle-esm.js), so they are devDependencies. With
// the JavaScript CRC-32 where zlib.crc32 is missing, the pack runs on the 18 and 20 lines back
// to the versions the unit suite was run on (18.20.4, 20.11.0: Raspberry Pi OS 32-bit's newest
// armv7l Node on npm). The Flow Library scorecard wants Node-RED 5's minimum, 22.9.0, inside the
// range; CI checks the full version first.
const checker = path.join(projectRoot, 'scripts', 'check-node.js');
const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const BUNDLED = ['@noble/curves', '@noble/hashes', '@scure/base'];

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? jsFiles(p) : /\.(js|html)$/.test(e.name) ? [p] : [];
  });
}

describe('engines: the Node versions the compiled code can run on', () => {
  it('package.json engines.node: 18.20.4+, 20.11.0+ and 22+', () => {
    assert.equal(pkg.engines.node, '^18.20.4 || ^20.11.0 || >=22.0.0');
  });

  it('the ESM-only packages are bundled: devDependencies, and nothing shipped require()s them', () => {
    for (const p of BUNDLED) assert.equal(pkg.dependencies[p], undefined, p);
    assert.ok(pkg.devDependencies['@noble/curves'] && pkg.devDependencies['@scure/base']);
    const shipped = ['lib', 'nodes', 'bin'].flatMap((d) => jsFiles(path.join(projectRoot, 'dist', d)));
    assert.ok(shipped.length > 50, `${shipped.length} files under dist/`);
    const offenders = shipped.filter((f) => /require\(["']@(noble|scure)\//.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map((f) => path.relative(projectRoot, f)), []);
    const bundle = fs.readFileSync(path.join(projectRoot, 'dist', 'lib', 'vendor', 'esm-only.js'), 'utf8');
    assert.doesNotMatch(bundle, /\brequire\(/);
    const licences = fs.readFileSync(path.join(projectRoot, 'dist', 'lib', 'vendor', 'LICENSES.txt'), 'utf8');
    for (const p of BUNDLED) assert.match(licences, new RegExp(`^${p}@\\d+\\.\\d+\\.\\d+ \\(MIT\\)`, 'm'), p);
  });

  it('the bundle loads without require(esm): a child Node with it disabled signs and verifies', () => {
    // --no-experimental-require-module turns require(esm) off on the Node lines that have it, so
    // the child behaves like 20.11 (where it does not exist): any require() of an ESM-only package throws.
    // That it would throw is checked too, so this test cannot pass by the flag doing nothing.
    const script = `
      const l = require(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'index.js'))});
      for (const alg of ['Ed25519', 'ES256']) {
        const k = l.generateKey(alg);
        const env = l.signEnvelope({ t: 1 }, k, { kid: l.keyToDid(k) });
        const got = Buffer.from(l.verifyEnvelope(env, l.didToKey(l.keyToDid(k))).payload).toString();
        if (got !== '{"t":1}') throw new Error('verified payload ' + got);
      }
      console.log('ok');`;
    // Older Nodes have neither require(esm) nor the flag.
    const flag = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module') ? ['--no-experimental-require-module'] : [];
    const esm = spawnSync(process.execPath, [...flag, '-e', "require('@noble/curves/ed25519.js')"], { cwd: projectRoot, encoding: 'utf8' });
    assert.notEqual(esm.status, 0, 'a require() of the ESM-only package itself fails in such a child');
    assert.match(esm.stderr, /ERR_REQUIRE_ESM/);
    const r = spawnSync(process.execPath, [...flag, '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });

  it('scripts/check-node.js accepts and refuses the full version, not only the major', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { problem } = require(checker) as { problem: (v: string, range: string) => string | null };
    for (const v of ['16.20.2', '18.19.1', '19.9.0', '20.0.0', '20.10.0', '21.7.3']) assert.notEqual(problem(v, pkg.engines.node), null, v);
    for (const v of ['18.20.4', '20.11.0', '20.20.2', '22.0.0', '22.9.0', '24.1.0', 'v20.19.5']) assert.equal(problem(v, pkg.engines.node), null, v);
    // as CI runs it: exit 1 with the reason, exit 0 on this Node
    const old = spawnSync(process.execPath, [checker, '20.10.0'], { encoding: 'utf8' });
    assert.equal(old.status, 1);
    assert.match(old.stderr, /is needed, found 20\.10\.0/);
    assert.equal(spawnSync(process.execPath, [checker, '21.7.3'], { encoding: 'utf8' }).status, 1);
    assert.equal(spawnSync(process.execPath, [checker], { encoding: 'utf8' }).status, 0, `this Node (${process.version}) runs the tests`);
  });

  it('.ci/run checks the version with it first, before installing or deleting anything', () => {
    const ci = fs.readFileSync(path.join(projectRoot, '.ci', 'run'), 'utf8');
    const check = ci.indexOf('node scripts/check-node.js');
    assert.ok(check > 0, '.ci/run calls scripts/check-node.js');
    for (const later of ['apt_ensure', 'rm -rf node_modules', 'npm ci', 'npm test']) assert.ok(ci.indexOf(later) > check, `${later} comes after the check`);
    assert.doesNotMatch(ci, /node_major/);
  });

  it('@noble/hashes is not a dependency, and nothing imports it', () => {
    assert.equal(pkg.dependencies['@noble/hashes'], undefined);
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|js)$/.test(e.name) && fs.readFileSync(p, 'utf8').includes("'@noble/hashes")) offenders.push(path.relative(projectRoot, p));
      }
    };
    for (const d of ['lib', 'nodes', 'bin', 'demo', 'bench', 'scripts']) if (fs.existsSync(path.join(projectRoot, d))) walk(path.join(projectRoot, d));
    assert.deepEqual(offenders, []);
  });
});
