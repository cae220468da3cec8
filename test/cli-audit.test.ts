import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openRawDb } from './support/raw-db';
import { main } from '../lib/cli/main';
import type { CliIo } from '../lib/cli/io';
import { buildSampleLedger, copyDir, keys, resealAfter, tempDir, type SampleLedger } from './support/audit-fixtures';
import { resigned } from './support/resigned-checkpoint';
import { runCli } from './support/cli';
import { MAX_BUNDLE_BYTES } from '../lib/ledger/bundle';
import { generateKey } from '../lib/crypto';
import { cosignedKey } from '../lib/witness/ledger-cosignatures';
import { witnessVerifierKey } from '../lib/witness';

function memoryIo(isTTY: boolean): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTTY,
    stdout: (s: string) => void (io.out += s),
    stderr: (s: string) => void (io.err += s),
    stdin: async () => Buffer.alloc(0),
  };
  return io;
}

describe('CLI: audit', function () {
  this.timeout(30000);
  let sample: SampleLedger;
  let damaged: string;
  let work: string;
  before(async () => {
    sample = await buildSampleLedger();
    work = tempDir('audit-cli-');
    damaged = copyDir(sample.dir);
    const db = await openRawDb(damaged);
    const v = (await db.get(keys.record(17))) as Buffer;
    v[50] ^= 0x10;
    await db.put(keys.record(17), v);
    await db.close();
  });
  after(() => [sample.dir, damaged, work].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('exits 0 on a clean ledger and 1 with findings, first failure first', () => {
    let r = runCli(['audit', sample.dir, '--key', sample.verifierKey]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^CLEAN: ledger "test\.ledger", 40 records in 4 blocks/);
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
    r = runCli(['audit', damaged, '--key', sample.gatewayDid]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^1 FINDING/);
    assert.match(r.stdout, /first failure: record-hash at record 17, 20\d\d-/);
  });

  it('without --key, a ledger whose meta is damaged: one line for the missing key, then the findings', async () => {
    const noMeta = copyDir(sample.dir);
    try {
      const db = await openRawDb(noMeta);
      await db.put(keys.meta(), Buffer.from('not a meta record'));
      await db.close();
      const r = runCli(['audit', noMeta]);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stdout.split('\n');
      const missing = lines.filter((l) => /no trusted gateway key/.test(l));
      assert.equal(missing.length, 1, r.stdout);
      assert.match(missing[0], /4 checkpoint signatures were not checked \(pass --key/);
      const first = lines.findIndex((l) => l.startsWith('first failure: '));
      assert.ok(first > lines.indexOf(missing[0]), 'the missing key comes before the findings');
      assert.match(lines[first], /^first failure: meta/);
      // --json keeps every finding as it is.
      const json = JSON.parse(runCli(['audit', noMeta, '--json']).stdout) as { findings: { detail: string }[] };
      assert.equal(json.findings.filter((f) => /no trusted gateway key/.test(f.detail)).length, 4);
    } finally {
      fs.rmSync(noMeta, { recursive: true, force: true });
    }
  });

  it('--json prints the report', () => {
    const r = runCli(['audit', damaged, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.clean, false);
    assert.equal(report.trust, 'meta');
    assert.equal(report.findings[0].kind, 'record-hash');
    assert.equal(report.findings[0].index, 17);
  });

  it('--from audits after a checkpoint file (a note or a JSON file holding one)', () => {
    const note = path.join(work, 'cp2.note');
    fs.writeFileSync(note, sample.checkpoints[2]);
    let r = runCli(['audit', damaged, '--from', note, '--key', sample.verifierKey, '--json']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { from: number; findings: { kind: string; index: number }[] };
    assert.equal(report.from, 30);
    // Record 17, damaged before the checkpoint, could have been an enrolment or a revocation: it is named.
    assert.deepEqual(report.findings.map((f) => [f.kind, f.index]), [['consistency', 17]]);
    const bundle = path.join(work, 'bundle.json');
    fs.writeFileSync(bundle, JSON.stringify({ format: 'iot-ledger-proof/1', checkpoint: sample.checkpoints[0] }));
    r = runCli(['audit', damaged, '--from', bundle, '--key', sample.verifierKey]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /audited from record 10/);
  });

  it('--from a checkpoint written before the header line: a later block the gateway key signed at a smaller size is found (exit 1)', async () => {
    // Block 1's checkpoint (size 20) without the header line; the key holder replaced blocks 2.. with blocks ending at 15, 25, 40.
    const note = path.join(work, 'cp1-legacy.note');
    fs.writeFileSync(note, resigned(sample.checkpoints[1], [], sample.name, sample.gatewayKey));
    const dir = copyDir(sample.dir);
    try {
      await resealAfter(dir, sample.name, sample.gatewayKey, 1, [15, 25, 40], 10);
      const r = runCli(['audit', dir, '--from', note, '--key', sample.verifierKey, '--json']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as { from: number; findings: { kind: string; height?: number }[] };
      assert.equal(report.from, 20);
      assert.ok(report.findings.some((f) => f.kind === 'block-chain' && f.height === 2), r.stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--from reads a file only up to the largest bundle: a longer one, or /dev/zero, is ERR_PAYLOAD_TOO_LARGE (exit 2)', () => {
    const zeros = path.join(work, 'zeros.note');
    // At the bound the file is read and judged as a note; one byte more and it is refused by its size.
    fs.writeFileSync(zeros, '');
    fs.truncateSync(zeros, MAX_BUNDLE_BYTES);
    const at = runCli(['audit', sample.dir, '--from', zeros, '--key', sample.verifierKey]);
    assert.equal(at.status, 2, at.stdout);
    assert.match(at.stderr, /the starting checkpoint is not a signed tlog checkpoint/);
    fs.truncateSync(zeros, MAX_BUNDLE_BYTES + 1);
    // /dev/zero never ends: without the bound the command would not finish (runCli waits 120 s at most).
    for (const file of [zeros, '/dev/zero']) {
      const r = runCli(['audit', sample.dir, '--from', file, '--key', sample.verifierKey]);
      assert.equal(r.status, 2, `${file}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`checkpoint file ${file} is larger than ${MAX_BUNDLE_BYTES} bytes.*\\(ERR_PAYLOAD_TOO_LARGE\\)`), file);
    }
    fs.rmSync(zeros);
  });

  it('exits 2 on usage errors, missing ledgers, bad keys and locked ledgers', async () => {
    assert.equal(runCli(['audit']).status, 2);
    assert.equal(runCli(['audit', sample.dir, '--bogus', 'x']).status, 2);
    assert.equal(runCli(['audit', sample.dir, '--from', path.join(work, 'nope')]).status, 2);
    const missing = runCli(['audit', path.join(work, 'no-ledger')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /ERR_NOT_FOUND/);
    assert.equal(runCli(['audit', sample.dir, '--key', 'garbage']).status, 2);
    const db = await openRawDb(sample.dir);
    try {
      const r = runCli(['audit', sample.dir]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /ERR_LEDGER_LOCKED/);
    } finally {
      await db.close();
    }
  });

  it('exits 2 naming the file when a FIFO stands for a file of the ledger (CURRENT, a segment), instead of blocking for good', () => {
    const dir = copyDir(sample.dir);
    try {
      const leveldb = fs.existsSync(path.join(dir, 'CURRENT'));
      const victim = path.join(dir, leveldb ? 'CURRENT' : '0000000002.seg');
      fs.rmSync(victim, { force: true });
      assert.equal(spawnSync('mkfifo', [victim]).status, 0);
      const r = runCli(['audit', dir]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${path.basename(victim).replace('.', '\\.')} .*not a regular file.*ERR_LEDGER_CORRUPT`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('draws a progress bar on stderr only when stderr is a terminal', async () => {
    const tty = memoryIo(true);
    assert.equal(await main(['audit', sample.dir], tty), 0);
    assert.match(tty.err, /audit \[#+\] 100% 40\/40 records/);
    assert.ok(tty.err.endsWith('\r\x1b[K'));
    const pipe = memoryIo(false);
    assert.equal(await main(['audit', sample.dir], pipe), 0);
    assert.equal(pipe.err, '');
  });

  it('--witness on a ledger damaged where it looks for cosignatures: the findings and no quorum (exit 1), not an error', async () => {
    const witness = witnessVerifierKey('w.example/audit', generateKey('Ed25519'));
    const damage = async (fn: (db: Awaited<ReturnType<typeof openRawDb>>) => Promise<void>): Promise<string> => {
      const copy = path.join(work, `witness-${fs.readdirSync(work).length}`);
      fs.renameSync(copyDir(sample.dir), copy);
      const db = await openRawDb(copy);
      try {
        await fn(db);
      } finally {
        await db.close();
      }
      return copy;
    };
    const cases = {
      // A block with cosignatures stored for it, unreadable.
      'a cosigned block': await damage(async (db) => {
        await db.put(cosignedKey(2), Buffer.from(sample.checkpoints[2] ?? ''));
        await db.put(keys.block(2), Buffer.from('x'));
      }),
      // The last block, unreadable: the ledger does not open.
      'the last block': await damage((db) => db.put(keys.block(sample.blocks - 1), Buffer.from('x'))),
    };
    for (const [what, dir] of Object.entries(cases)) {
      const io = memoryIo(false);
      assert.equal(await main(['audit', dir, '--key', sample.verifierKey, '--witness', witness, '--quorum', '1'], io), 1, `${what}: ${io.err}`);
      assert.equal(io.err, '', what);
      assert.match(io.out, /first failure: block-header at block \d: block value is not canonical CBOR/, what);
      assert.match(io.out, /witnesses: NO checkpoint of this ledger has 1 of the 1 witness cosignatures required/, what);
    }
  });

  it('--anchor on a ledger too damaged to open: the report and its findings (exit 1), the anchors not checked', async () => {
    const dir = path.join(work, 'anchor-damaged');
    fs.renameSync(copyDir(sample.dir), dir);
    const db = await openRawDb(dir);
    await db.put(keys.block(sample.blocks - 1), Buffer.from('x'));
    await db.close();
    // No endpoint listens there: the chain is never asked.
    const anchor = ['--anchor', 'http://127.0.0.1:9', '--contract', `0x${'ab'.repeat(20)}`];
    const json = memoryIo(false);
    assert.equal(await main(['audit', dir, '--key', sample.verifierKey, '--json', ...anchor], json), 1, json.err);
    const report = JSON.parse(json.out) as { clean: boolean; findings: { kind: string }[]; anchors: unknown; anchorsNotChecked: string };
    assert.equal(report.clean, false);
    assert.equal(report.findings[0]?.kind, 'block-header');
    assert.equal(report.anchors, null);
    assert.match(report.anchorsNotChecked, /the ledger does not open \(block 3 is unreadable/);
    const text = memoryIo(false);
    assert.equal(await main(['audit', dir, '--key', sample.verifierKey, ...anchor], text), 1, text.err);
    assert.match(text.out, /first failure: block-header at block 3[^]*\nanchors: not checked: the ledger does not open/);
  });

  it('--anchor and --witness on a ledger whose meta record was deleted: the report and its findings (exit 1), not "no ledger"', async () => {
    const dir = path.join(work, 'meta-deleted');
    fs.renameSync(copyDir(sample.dir), dir);
    const db = await openRawDb(dir);
    await db.batch([{ type: 'del', key: keys.meta() }]);
    await db.close();
    const anchor = ['--anchor', 'http://127.0.0.1:9', '--contract', `0x${'ab'.repeat(20)}`];
    const json = memoryIo(false);
    assert.equal(await main(['audit', dir, '--key', sample.verifierKey, '--json', ...anchor], json), 1, json.err);
    const report = JSON.parse(json.out) as { clean: boolean; findings: { kind: string }[]; anchors: unknown; anchorsNotChecked: string };
    assert.equal(report.findings[0]?.kind, 'meta');
    assert.equal(report.anchors, null);
    assert.match(report.anchorsNotChecked, /the ledger does not open/);
    const witness = witnessVerifierKey('w.example/audit', generateKey('Ed25519'));
    const text = memoryIo(false);
    assert.equal(await main(['audit', dir, '--key', sample.verifierKey, '--witness', witness, '--quorum', '1'], text), 1, text.err);
    assert.equal(text.err, '');
    assert.match(text.out, /first failure: meta[^]*witnesses: NO checkpoint of this ledger has 1 of the 1 witness cosignatures required/);
  });
});
