import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './support/paths';

// The compiled CommonJS require()s ESM-only @noble/* 2.x: Node loads that without a flag from
// 20.19.0 on the 20 line and from 22.12.0 on (22.11.0 throws ERR_REQUIRE_ESM). engines.node
// says >=20.19.0 (the Flow Library scorecard wants Node-RED 5's minimum, 22.9.0, inside it),
// and CI checks the full version, including the lines engines cannot exclude, first.
const checker = path.join(projectRoot, 'scripts', 'check-node.js');
const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
};

describe('engines: the Node versions the compiled code can run on', () => {
  it('package.json engines.node starts at 20.19.0', () => {
    assert.equal(pkg.engines.node, '>=20.19.0');
  });

  it('scripts/check-node.js accepts and refuses the full version, not only the major', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { problem } = require(checker) as { problem: (v: string, range: string) => string | null };
    for (const v of ['18.20.4', '20.0.0', '20.18.3', '21.7.3', '22.0.0', '22.11.0']) assert.notEqual(problem(v, pkg.engines.node), null, v);
    for (const v of ['20.19.0', '20.20.2', '22.12.0', '22.20.0', '24.1.0', 'v20.19.5']) assert.equal(problem(v, pkg.engines.node), null, v);
    // as CI runs it: exit 1 with the reason, exit 0 on this Node
    const old = spawnSync(process.execPath, [checker, '20.18.3'], { encoding: 'utf8' });
    assert.equal(old.status, 1);
    assert.match(old.stderr, />=20\.19\.0 is needed, found 20\.18\.3/);
    const flagged = spawnSync(process.execPath, [checker, '22.11.0'], { encoding: 'utf8' });
    assert.equal(flagged.status, 1);
    assert.match(flagged.stderr, /22\.11\.0 cannot require\(\) ES modules/);
    assert.equal(spawnSync(process.execPath, [checker], { encoding: 'utf8' }).status, 0, `this Node (${process.version}) runs the tests`);
  });

  it('.ci/run checks the version with it first, before installing or deleting anything', () => {
    const ci = fs.readFileSync(path.join(projectRoot, '.ci', 'run'), 'utf8');
    const check = ci.indexOf('node scripts/check-node.js');
    assert.ok(check > 0, '.ci/run calls scripts/check-node.js');
    for (const later of ['apt-get', 'rm -rf node_modules', 'npm ci', 'npm test']) assert.ok(ci.indexOf(later) > check, `${later} comes after the check`);
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
