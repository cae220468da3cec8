import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { NodeRedProcess } from '../../demo/nodered/process';
import { createUserDir, installIntoUserDir } from '../../demo/nodered/userdir';
import { nodeBinary, nodeRedInstall, packedTarball, projectPackage, scratchDir } from '../support/e2e';

// The packed tarball, installed with npm into a fresh user directory, loaded by
// a real Node-RED child process: what a user gets from the palette manager.

interface Runtime {
  nodeRedInstall?: string;
  nodeBinary: string;
}

const pkg = projectPackage();
const escaped = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const cases: Array<{ label: string; nodeRed: number; node: number; runtime: () => Promise<Runtime> }> = [
  {
    label: "Node-RED 4 (the project's) on this Node 20",
    nodeRed: 4,
    node: Number(process.versions.node.split('.')[0]),
    runtime: async () => ({ nodeBinary: process.execPath }),
  },
  {
    label: 'Node-RED 5 on Node 22',
    nodeRed: 5,
    node: 22,
    runtime: async () => {
      const [dir, bin] = await Promise.all([nodeRedInstall(5), nodeBinary(22)]);
      return { nodeRedInstall: dir, nodeBinary: bin };
    },
  },
];

describe('e2e: the packed module loads in a real Node-RED', function () {
  this.timeout(150_000);
  const prepared = new Map<string, Promise<Runtime>>();

  before(() => {
    // Start the slow downloads at once; each case awaits its own.
    for (const c of cases) {
      const p = c.runtime();
      p.catch(() => undefined);
      prepared.set(c.label, p);
    }
    packedTarball().catch(() => undefined);
  });

  for (const c of cases) {
    describe(c.label, () => {
      let nr: NodeRedProcess | undefined;
      let userDir = '';

      before(async () => {
        const [tgz, runtime] = await Promise.all([packedTarball(), prepared.get(c.label)!]);
        userDir = createUserDir(scratchDir('load'));
        await installIntoUserDir(userDir, tgz);
        nr = await NodeRedProcess.start({ userDir, logLevel: 'debug', ...runtime });
      });

      after(async () => {
        const exit = await nr?.stop();
        if (exit) assert.equal(exit.code, 0, `Node-RED exited with ${JSON.stringify(exit)}\n${nr?.output()}`);
      });

      it(`runs Node-RED ${c.nodeRed} on Node ${c.node}`, async () => {
        assert.equal(Number(nr!.nodeRedVersion.split('.')[0]), c.nodeRed);
        await nr!.waitForLine(new RegExp(`Node\\.js\\s+version: v${c.node}\\.`), 1000);
      });

      it('finds the module installed in the user directory', async () => {
        const dir = path.join(userDir, 'node_modules', pkg.name);
        const line = await nr!.waitForLine(new RegExp(`\\] Module: ${escaped(pkg.name)} `), 1000);
        assert.equal(line.split('] Module: ')[1], `${pkg.name} ${pkg.version} ${dir}`, line);
      });

      it('registers exactly the node sets in package.json node-red.nodes, enabled and without error', async () => {
        const ours = (await nr!.getNodes()).filter((s) => s.module === pkg.name);
        const wanted = Object.keys(pkg['node-red'].nodes).sort();
        assert.deepEqual(ours.map((s) => s.name).sort(), wanted, 'node sets of the module');
        for (const set of ours) {
          assert.equal(set.err, undefined, `${set.id}: ${set.err}`);
          assert.equal(set.enabled, true, `${set.id} is disabled`);
          assert.equal(set.version, pkg.version, `${set.id} version`);
          assert.ok(set.types.length > 0, `${set.id} registered no node type`);
        }
      });

      it('logs no error, and no warning about the module', () => {
        const bad = nr!.lines
          .map((l) => l.text)
          .filter((t) => /\[error\]/.test(t) || (/\[warn\]/.test(t) && t.includes(pkg.name)) || /Failed to (register|load)/.test(t));
        assert.deepEqual(bad, [], nr!.output());
      });
    });
  }
});
