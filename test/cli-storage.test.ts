// The CLI over both storage backends: `audit` and `info` read LevelDB and file-store ledgers
// alike and say which; without classic-level (the test hook), a file-store ledger still works,
// a LevelDB one is refused with ERR_LEDGER_STORAGE saying what to do, and `convert` copies a
// ledger to the other backend and audits the copy.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { STORAGE_ENV } from '../lib/storage/open';
import { NO_CLASSIC_LEVEL_ENV } from '../lib/storage/level';
import { storageIn } from '../lib/storage/open';
import { buildSampleLedger, copyDir, tempDir, type SampleLedger } from './support/audit-fixtures';
import { runCli } from './support/cli';
import { projectRoot } from './support/paths';

/** Where each frame of a file-store segment starts (docs/FORMAT.md, "File storage"). */
function frameStarts(seg: Buffer): number[] {
  const starts: number[] = [];
  for (let at = 8; at < seg.length; at += 8 + seg.readUInt32BE(at)) starts.push(at);
  return starts;
}

async function sampleIn(kind: 'file' | 'leveldb', dir: string): Promise<SampleLedger> {
  const before = process.env[STORAGE_ENV];
  process.env[STORAGE_ENV] = kind;
  try {
    return await buildSampleLedger(dir);
  } finally {
    if (before === undefined) delete process.env[STORAGE_ENV];
    else process.env[STORAGE_ENV] = before;
  }
}

describe('CLI: ledgers in LevelDB and in file storage', function () {
  this.timeout(60000);
  let work: string;
  let level: SampleLedger;
  let file: SampleLedger;
  before(async () => {
    work = tempDir('cli-storage-');
    level = await sampleIn('leveldb', path.join(work, 'level'));
    file = await sampleIn('file', path.join(work, 'file'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('audit and info read both kinds and name the storage', () => {
    assert.equal(storageIn(level.dir), 'leveldb');
    assert.equal(storageIn(file.dir), 'file');
    for (const [s, label, kind] of [[level, 'LevelDB', 'leveldb'], [file, 'file storage', 'file']] as const) {
      const r = runCli(['audit', s.dir, '--key', s.verifierKey]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^CLEAN: ledger "test\.ledger", 40 records in 4 blocks/);
      assert.match(r.stdout, new RegExp(`signatures in \\d+ ms \\(${label}\\)`));
      const json = JSON.parse(runCli(['audit', s.dir, '--json']).stdout) as { storage: string; clean: boolean };
      assert.deepEqual([json.storage, json.clean], [kind, true]);
      const info = runCli(['info', s.dir]);
      assert.equal(info.status, 0, info.stderr);
      assert.match(info.stdout, new RegExp(`^storage:  ${label} \\(`, 'm'));
      assert.equal((JSON.parse(runCli(['info', s.dir, '--json']).stdout) as { storage: string }).storage, kind);
    }
  });

  it('audit leaves a damaged last write of a file store on disk, and says how much of which segment it did not read', () => {
    const dir = copyDir(file.dir);
    try {
      const seg = path.join(dir, '0000000001.seg');
      const bytes = fs.readFileSync(seg);
      const last = frameStarts(bytes).at(-1) as number;
      bytes[last + 20] ^= 0x01; // the CRC of the last frame (the last block's seal) no longer matches
      fs.writeFileSync(seg, bytes);
      const json = runCli(['audit', dir, '--json', '--key', file.verifierKey]);
      assert.deepEqual(fs.readFileSync(seg), bytes, 'the audit changed the segment');
      const report = JSON.parse(json.stdout) as { tornTail?: { segment: string; offset: number; bytes: number; why: string } };
      assert.deepEqual(report.tornTail, { segment: '0000000001.seg', offset: last, bytes: bytes.length - last, why: 'CRC mismatch' });
      const text = runCli(['audit', dir, '--key', file.verifierKey]);
      assert.match(text.stdout, new RegExp(`^file storage: the last ${bytes.length - last} bytes of segment 0000000001\\.seg \\(from offset ${last}\\) are no whole write \\(CRC mismatch\\)`, 'm'));
      assert.deepEqual(fs.readFileSync(seg), bytes, 'the audit changed the segment');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('info, export and tiles leave a torn last write of a file store on disk', () => {
    const dir = copyDir(file.dir);
    try {
      const seg = path.join(dir, '0000000001.seg');
      fs.appendFileSync(seg, Buffer.from([0, 0, 1, 0, 1, 2, 3])); // a frame of 256 bytes cut off after 3
      const bytes = fs.readFileSync(seg);
      for (const args of [['info', dir], ['export', dir, '--from', '39'], ['tiles', dir, path.join(dir, '..', `${path.basename(dir)}-tiles`)]]) {
        const r = runCli(args);
        assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
        assert.deepEqual(fs.readFileSync(seg), bytes, `${args[0]} changed the segment`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(`${dir}-tiles`, { recursive: true, force: true });
    }
  });

  it('audit and info refuse a LevelDB directory holding symbolic links, and write nothing through them', () => {
    const dir = copyDir(level.dir);
    const outside = tempDir('cli-storage-outside-');
    try {
      // Links named like the files LevelDB writes as it opens (a table from the log, a log, a
      // MANIFEST), under the next numbers, pointing at files of the auditor and at a new one.
      const top = Math.max(...fs.readdirSync(dir).map((n) => Number(/(\d{6})/.exec(n)?.[1] ?? 0)));
      const victims: string[] = [];
      for (let n = top + 1; n <= top + 6; n++) {
        const number = String(n).padStart(6, '0');
        for (const name of [`${number}.ldb`, `${number}.log`, `MANIFEST-${number}`]) {
          const victim = path.join(outside, name);
          fs.writeFileSync(victim, `precious ${name}\n`);
          victims.push(victim);
          fs.symlinkSync(victim, path.join(dir, name));
        }
      }
      fs.rmSync(path.join(dir, 'LOCK'), { force: true });
      fs.symlinkSync(path.join(outside, 'created'), path.join(dir, 'LOCK')); // LevelDB creates its LOCK where this points
      const runs = ['audit', 'info'].map((command) => ({ command, ...runCli([command, dir]) }));
      for (const victim of victims) assert.equal(fs.readFileSync(victim, 'utf8'), `precious ${path.basename(victim)}\n`, `${victim} was written`);
      assert.equal(fs.existsSync(path.join(outside, 'created')), false);
      for (const r of runs) {
        assert.equal(r.status, 2, `${r.command}: ${r.stdout}`);
        assert.match(r.stderr, /symbolic link in a LevelDB directory.*ERR_LEDGER_CORRUPT/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('audit and info refuse a LevelDB CURRENT naming a file out of the directory (a FIFO there), instead of reading it for good', () => {
    const dir = copyDir(level.dir);
    const outside = tempDir('cli-storage-outside-');
    try {
      assert.equal(spawnSync('mkfifo', [path.join(outside, 'fifo')]).status, 0);
      fs.writeFileSync(path.join(dir, 'CURRENT'), `${path.relative(dir, path.join(outside, 'fifo'))}\n`);
      for (const command of ['audit', 'info']) {
        const r = spawnSync(process.execPath, [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), command, dir], { encoding: 'utf8', timeout: 20_000 });
        assert.equal(r.status, 2, `${command}: ${r.error?.message ?? r.stdout}`);
        assert.match(r.stderr, /CURRENT does not name a MANIFEST file of the directory.*ERR_LEDGER_CORRUPT/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('without classic-level: a file ledger audits clean, a LevelDB one is ERR_LEDGER_STORAGE with what to do, a new one is file storage', () => {
    const env = { [NO_CLASSIC_LEVEL_ENV]: '1', [STORAGE_ENV]: undefined };
    const ok = runCli(['audit', file.dir, '--key', file.verifierKey], undefined, undefined, env);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^CLEAN/);
    const refused = runCli(['audit', level.dir], undefined, undefined, env);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /ERR_LEDGER_STORAGE/);
    assert.match(refused.stderr, /classic-level cannot load on this machine \(disabled by IOT_LEDGER_TEST_NO_CLASSIC_LEVEL/);
    assert.match(refused.stderr, /iot-ledger convert SRC DST/);
    const fresh = path.join(work, 'fresh');
    const key = path.join(work, 'gw.jwk');
    assert.equal(runCli(['keygen', '--out', key]).status, 0);
    const appended = runCli(['append', fresh, '--key', key, '--name', 'example.com/fresh'], '{"type":"note","body":{"a":1}}\n', undefined, env);
    assert.equal(appended.status, 0, appended.stderr);
    assert.equal(storageIn(fresh), 'file');
    const info = runCli(['info', fresh], undefined, undefined, env);
    assert.match(info.stdout, /^storage: {2}file storage \(the directory holds file storage\)$/m);
    const audited = runCli(['audit', fresh], undefined, undefined, env);
    assert.equal(audited.status, 0, audited.stderr + audited.stdout);
  });

  it('convert copies a ledger to the other backend, both ways, and audits the copy clean', () => {
    const toFile = path.join(work, 'to-file');
    let r = runCli(['convert', level.dir, toFile]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^copied \d+ keys from LevelDB to file storage/);
    assert.match(r.stdout, /^CLEAN: ledger "test\.ledger", 40 records in 4 blocks/m);
    assert.equal(storageIn(toFile), 'file');
    const back = path.join(work, 'back');
    r = runCli(['convert', toFile, back]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(storageIn(back), 'leveldb');
    const a = JSON.parse(runCli(['audit', level.dir, '--json']).stdout) as { checked: unknown; size: number };
    const b = JSON.parse(runCli(['audit', back, '--json']).stdout) as { checked: unknown; size: number };
    assert.deepEqual([b.size, b.checked], [a.size, a.checked]);
    assert.equal(runCli(['convert', level.dir, toFile]).status, 2, 'refuses a destination that is not empty');
    assert.equal(runCli(['convert', level.dir, path.join(work, 'x'), '--to', 'leveldb']).status, 2, 'refuses a copy into the same backend');
  });
});
