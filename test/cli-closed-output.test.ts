// The CLI when whoever reads its output stops early (`| head`): no stack trace, exit 2.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSampleLedger, type SampleLedger } from './support/audit-fixtures';
import { projectRoot } from './support/paths';

describe('CLI: standard output closed by its reader', function () {
  this.timeout(30_000);
  let sample: SampleLedger;
  before(async () => {
    sample = await buildSampleLedger();
  });
  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  it('export and audit into a pipe closed before they write: no stack trace, exit 2', () => {
    const cli = path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js');
    for (const args of [['export', sample.dir], ['audit', sample.dir, '--json']]) {
      // `true` exits without reading: every write of the CLI meets a closed pipe.
      const r = spawnSync('bash', ['-c', '"$@" | true; exit "${PIPESTATUS[0]}"', 'bash', process.execPath, cli, ...args], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.stderr, '', `${args[0]}: ${r.stderr}`);
      assert.equal(r.status, 2, args[0]);
    }
  });
});
