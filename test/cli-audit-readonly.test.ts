import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSampleLedger, copyDir, keys, mutate, tempDir, type SampleLedger } from './support/audit-fixtures';
import { STORAGE_ENV } from '../lib/storage/open';
import { projectRoot } from './support/paths';

// The audit of a directory it cannot write: a read-only mount, and a full disk. LevelDB
// writes on open (lock, info log, log recovery into a table and a new MANIFEST), so the audit
// reads such a directory through a private view and must leave every file as it was.
// The mounts live in a private mount namespace (`unshare -rm`): root cannot write through a
// read-only mount, and a full tmpfs refuses root too, so these fail when the audit writes.

const cli = path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js');

/** Runs a shell script in a new user and mount namespace; $NODE and $CLI name the audit. */
function inNamespace(script: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['-rm', 'sh', '-euc', script, 'sh', ...args], {
    env: { ...process.env, NODE: process.execPath, CLI: cli },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every file's name, size and modification time, to show that nothing was written. */
function listing(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((n) => {
      const s = fs.statSync(path.join(dir, n));
      return `${n} ${s.size} ${s.mtimeMs}`;
    });
}

describe('CLI: audit of a directory that cannot be written', function () {
  this.timeout(60_000);
  let sample: SampleLedger;
  let damaged: string;
  const dirs: string[] = [];

  before(async () => {
    sample = await buildSampleLedger();
    damaged = copyDir(sample.dir);
    await mutate(damaged, async (db) => {
      const v = (await db.get(keys.record(23))) as Buffer;
      v[60] ^= 0x01;
      await db.put(keys.record(23), v);
    });
    dirs.push(sample.dir, damaged);
  });
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  // Bind the ledger read-only onto itself, then audit it there.
  const readOnly = 'mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; if touch "$1/probe" 2>/dev/null; then exit 97; fi; exec "$NODE" "$CLI" audit "$1" --json --key "$2"';

  it('audits a read-only mount: clean, and nothing in it changes', () => {
    const copy = copyDir(sample.dir);
    dirs.push(copy);
    const before = listing(copy);
    const r = inNamespace(readOnly, [copy, sample.verifierKey]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout);
    assert.equal(report.clean, true);
    assert.equal(report.size, sample.size);
    assert.deepEqual(listing(copy), before);
  });

  it('audits a damaged read-only mount: exit 1 at the damaged record', () => {
    const r = inNamespace(readOnly, [damaged, sample.verifierKey]);
    assert.equal(r.status, 1, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout);
    assert.equal(report.findings[0].kind, 'record-hash');
    assert.equal(report.findings[0].index, 23);
  });

  it('audits a ledger on a full disk, leaving its files as they were', () => {
    const mnt = tempDir('audit-full-');
    dirs.push(mnt);
    // A 1 MiB tmpfs holding the ledger, then filled to the last block; the listing is taken
    // inside the namespace (the mount is private to it).
    const script = [
      'mount -t tmpfs -o size=1m tmpfs "$1"',
      'cp -a "$2" "$1/ledger"',
      'dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null || true',
      'if echo x > "$1/probe" 2>/dev/null && [ -s "$1/probe" ]; then exit 97; fi',
      'before=$(ls -l --time-style=+%s.%N "$1/ledger")',
      'set +e; "$NODE" "$CLI" audit "$1/ledger" --json --key "$3"; code=$?; set -e',
      'after=$(ls -l --time-style=+%s.%N "$1/ledger")',
      '[ "$before" = "$after" ] || { echo "files changed: $before / $after" >&2; exit 98; }',
      'exit $code',
    ].join('\n');
    const r = inNamespace(script, [mnt, damaged, sample.verifierKey]);
    assert.equal(r.status, 1, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout);
    assert.equal(report.findings[0].kind, 'record-hash');
    assert.equal(report.findings[0].index, 23);
    const clean = inNamespace(script, [mnt, sample.dir, sample.verifierKey]);
    assert.equal(clean.status, 0, clean.stderr + clean.stdout);
    assert.equal(JSON.parse(clean.stdout).clean, true);
  });
});

describe('CLI: the reading commands on a file-storage ledger that cannot be written', function () {
  this.timeout(60_000);
  let sample: SampleLedger;

  before(async () => {
    const before = process.env[STORAGE_ENV];
    process.env[STORAGE_ENV] = 'file';
    try {
      sample = await buildSampleLedger();
    } finally {
      if (before === undefined) delete process.env[STORAGE_ENV];
      else process.env[STORAGE_ENV] = before;
    }
  });
  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  // No LOCK file can be made there: info and export read it without one, and change nothing.
  it('info and export read a read-only mount of it, and nothing in it changes', () => {
    const before = listing(sample.dir);
    const script = 'mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; if touch "$1/probe" 2>/dev/null; then exit 97; fi; "$NODE" "$CLI" info "$1" --json; "$NODE" "$CLI" export "$1" --from 39';
    const r = inNamespace(script, [sample.dir]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const [info, exported] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { size?: number; storage?: string; index?: number });
    assert.deepEqual([info.size, info.storage], [sample.size, 'file']);
    assert.equal(exported.index, 39);
    assert.deepEqual(listing(sample.dir), before);
  });
});
