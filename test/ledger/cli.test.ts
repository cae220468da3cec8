import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeEd25519, ed25519Backend } from '../../lib/crypto/ed25519';
import { readPrivateKeyFile } from '../../lib/crypto/keyfile';
import { Ledger, verifyProofBundle } from '../../lib/ledger';
import { generateKey } from '../../lib/crypto';
import { MAX_BUNDLE_BYTES } from '../../lib/ledger/bundle';
import { runCli } from '../support/cli';
import { deviceA, tempDir } from '../support/ledger';
import { decodeMeta, META_KEY, metaValue } from '../../lib/ledger/layout';
import { openRawDb } from '../support/raw-db';
import { verifierKeyString } from '../../lib/note/note';

describe('CLI: append, prove, verify-proof, export, info', () => {
  let tmp: ReturnType<typeof tempDir>;
  let dir: string;
  let keyFile: string;
  before(() => {
    tmp = tempDir('iot-ledger-cli-');
    dir = path.join(tmp.dir, 'ledger');
    keyFile = path.join(tmp.dir, 'keys', 'gateway.jwk');
  });
  after(() => tmp.cleanup());

  const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

  it('append creates the ledger and a 0600 key, prints a receipt per record', () => {
    const input = [
      JSON.stringify({ type: 'reading', device: deviceA, body: { celsius: -21.5 } }),
      JSON.stringify({ type: 'note', body: 'door opened', envelope: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln' }),
      '',
      JSON.stringify({ type: 'reading', envelope: { hex: 'd28440a04040' }, time: '2024-05-01T12:00:00Z' }),
    ].join('\n');
    const r = runCli(['append', dir, '--key', keyFile, '--name', 'example.com/gw'], input);
    assert.equal(r.status, 0, r.stderr);
    const receipts = lines(r.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(
      receipts.map((x) => x.index),
      [0, 1, 2],
    );
    assert.equal(receipts[2].time, Date.parse('2024-05-01T12:00:00Z'));
    assert.match(receipts[0].leafHash, /^[0-9a-f]{64}$/);
    // Each line is exactly the receipt's JSON, keys in order (the CLI spells it out instead of JSON.stringify).
    assert.deepEqual(lines(r.stdout), receipts.map((x) => JSON.stringify({ index: x.index, leafHash: x.leafHash, time: x.time, block: x.block })));
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    readPrivateKeyFile(keyFile);
  });

  it('append stops at a bad line: earlier records stay, the error names the line, exit 2', () => {
    const input = ['{"type":"note","body":1}', '{"type":"note","body":2}', '{"type":"Note"}', '{"type":"note","body":4}'].join('\n');
    const r = runCli(['append', dir, '--key', keyFile], input);
    assert.equal(r.status, 2);
    assert.equal(lines(r.stdout).length, 2);
    assert.match(r.stderr, /line 3: type must match/);
    const bad = runCli(['append', dir, '--key', keyFile], '{"type":"note"}\nnot json\n');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /line 2: not JSON/);
    assert.equal(runCli(['append', dir], '').status, 2, 'usage: --key is required');
  });

  for (const via of ['a pipe', 'a file (read in 1 MiB chunks)'] as const) {
    it(`append in batches from ${via}: a bad line deep in a large input keeps exactly the records before it, in order`, () => {
      const big = path.join(tmp.dir, `big-${via.length}`);
      // About 1.6 MB: lines cross the file reader's 1 MiB chunk boundary.
      const input = Array.from({ length: 6000 }, (_, i) =>
        i === 4321 ? '{"type":"Bad"}' : JSON.stringify({ type: 'reading', device: deviceA, body: { i, pad: 'x'.repeat(i % 400) } }),
      ).join('\r\n');
      const inputFile = path.join(tmp.dir, `input-${via.length}.jsonl`);
      fs.writeFileSync(inputFile, input);
      assert.ok(fs.statSync(inputFile).size > 1.5 * 1024 * 1024);
      const r = runCli(['append', big, '--key', keyFile, '--name', 'example.com/big'], via === 'a pipe' ? input : { file: inputFile });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /line 4322: type must match .*; the 4321 record\(s\) before it were appended/);
      const receipts = lines(r.stdout).map((l) => JSON.parse(l) as { index: number });
      assert.deepEqual(
        receipts.map((x) => x.index),
        Array.from({ length: 4321 }, (_, i) => i),
      );
      const info = JSON.parse(runCli(['info', big, '--json']).stdout) as { size: number };
      assert.equal(info.size, 4321);
      const rest = runCli(['append', big, '--key', keyFile], `${JSON.stringify({ type: 'note', body: 'last line without a newline' })}`);
      assert.equal(rest.status, 0, rest.stderr);
      assert.equal((JSON.parse(lines(rest.stdout)[0]) as { index: number }).index, 4321);
    });
  }

  it('append to a new directory without --name names the ledger after the directory, and says so', () => {
    const fresh = path.join(tmp.dir, 'cold room+2');
    const r = runCli(['append', fresh, '--key', path.join(tmp.dir, 'keys', 'fresh.jwk')], '{"type":"note","body":"first"}\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /new ledger .*cold room\+2 named "cold-room-2" \(its checkpoint origin; --name to choose another\)/);
    const info = runCli(['info', fresh, '--json']);
    assert.equal((JSON.parse(info.stdout) as { name: string }).name, 'cold-room-2');
    // An existing ledger keeps its name, and says nothing about one.
    const again = runCli(['append', fresh, '--key', path.join(tmp.dir, 'keys', 'fresh.jwk')], '{"type":"note","body":"second"}\n');
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /new ledger/);
  });

  it('firmware history --json prints valid JSON, an empty list for a ledger without firmware records', () => {
    const r = runCli(['firmware', 'history', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('firmware history keeps the latest 1000 versions and rejections of a device and says how many older ones it left out', () => {
    const fw = path.join(tmp.dir, 'firmware');
    const decision = (i: number): string => {
      const sequence = 1 + (i % 2);
      const body =
        i < 1003
          ? { decision: 'approved', subject: 'update', device: deviceA, vendor: 'acme', class: 'thermo', sequence, version: `1.${sequence}`, digest: String(sequence).repeat(64), size: 1, signer: deviceA, release: 0, at: 0 }
          : { decision: 'rejected', subject: 'update', reason: 'rollback', message: 'no', device: deviceA };
      return JSON.stringify({ type: 'firmware.decision', body });
    };
    const input = Array.from({ length: 2007 }, (_, i) => decision(i)).join('\n');
    assert.equal(runCli(['append', fw, '--key', keyFile, '--name', 'example.com/fw'], input).status, 0);
    const json = runCli(['firmware', 'history', fw, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const [h] = JSON.parse(json.stdout) as { device: string; versions: { from: { index: number } }[]; rejections: unknown[]; omittedVersions: number; omittedRejections: number }[];
    assert.deepEqual([h.device, h.versions.length, h.omittedVersions, h.rejections.length, h.omittedRejections], [deviceA, 1000, 3, 1000, 4]);
    assert.equal(h.versions[0].from.index, 3);
    const text = runCli(['firmware', 'history', fw]);
    assert.match(text.stdout, /\.\.\. 3 earlier versions not kept\n/);
    assert.match(text.stdout, /\.\.\. 4 earlier rejections not kept\n/);
  });

  it('export prints readable JSON lines; info describes the ledger', () => {
    const r = runCli(['export', dir, '--from', '1', '--to', '3']);
    assert.equal(r.status, 0, r.stderr);
    const rows = lines(r.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(rows[0], {
      index: 1,
      leafHash: rows[0].leafHash,
      type: 'note',
      time: rows[0].time,
      body: 'door opened',
      envelope: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln',
    });
    assert.deepEqual(rows[1].envelope, { hex: 'd28440a04040' });
    assert.equal(rows[1].time, '2024-05-01T12:00:00.000Z');
    assert.equal(rows.length, 2);

    const info = runCli(['info', dir, '--json']);
    assert.equal(info.status, 0, info.stderr);
    const i = JSON.parse(info.stdout);
    assert.equal(i.name, 'example.com/gw');
    assert.equal(i.size, 6);
    assert.equal(i.blocks, 3);
    assert.match(i.gateway, /^did:key:z6Mk/);
    assert.match(i.verifier, /^example\.com\/gw\+[0-9a-f]{8}\+/);
    assert.match(i.latest.checkpoint, /^example\.com\/gw\n6\n/);
    // The command's verifier is this process's (test/ed25519-backends asserts libsodium loads here).
    assert.equal(i.ed25519, ed25519Backend().backend);
    const text = runCli(['info', dir]);
    assert.match(text.stdout, /size: +6 record/);
    assert.ok(text.stdout.includes(`\ned25519:  ${describeEd25519()}\n`), text.stdout);
    const chosen = runCli(['info', dir], undefined, undefined, { IOT_LEDGER_ED25519: 'node-crypto' });
    assert.match(chosen.stdout, /^ed25519: {2}node:crypto \(libsodium not used: IOT_LEDGER_ED25519=node-crypto\)$/m);
    assert.equal(runCli(['info', path.join(tmp.dir, 'nothing')]).status, 2);
  });

  it('prove writes a bundle that verify-proof accepts (exit 0) and rejects when tampered (exit 1)', () => {
    const out = path.join(tmp.dir, 'proof.json');
    const p = runCli(['prove', dir, '0', '--out', out]);
    assert.equal(p.status, 0, p.stderr);
    const bundle = JSON.parse(fs.readFileSync(out, 'utf8'));
    const info = JSON.parse(runCli(['info', dir, '--json']).stdout);
    assert.equal(verifyProofBundle(bundle, info.gateway).index, 0);
    assert.deepEqual(JSON.parse(runCli(['prove', dir, '0']).stdout), bundle);

    for (const key of [info.gateway, info.verifier]) {
      const v = runCli(['verify-proof', out, '--key', key]);
      assert.equal(v.status, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /^valid: record 0 is in ledger example\.com\/gw/);
      assert.match(v.stdout, /type: +reading/);
      assert.match(v.stdout, new RegExp(`device: +${deviceA}`));
      assert.match(v.stdout, /body: +\{"celsius":-21\.5\}/);
    }
    const tampered = path.join(tmp.dir, 'tampered.json');
    const other = JSON.parse(runCli(['prove', dir, '1']).stdout);
    fs.writeFileSync(tampered, JSON.stringify({ ...bundle, record: other.record }));
    const t = runCli(['verify-proof', tampered, '--key', info.gateway]);
    assert.equal(t.status, 1);
    assert.match(t.stdout, /^invalid: .*ERR_MALFORMED_PROOF/);
    const stranger = runCli(['keygen']).stdout.trim();
    assert.equal(runCli(['verify-proof', out, '--key', stranger]).status, 1);
    assert.equal(runCli(['verify-proof', out]).status, 2);
    assert.equal(runCli(['verify-proof', path.join(tmp.dir, 'missing.json'), '--key', info.gateway]).status, 2);
    assert.equal(runCli(['verify-proof', '-', '--key', info.gateway], fs.readFileSync(out)).status, 0);
    assert.equal(runCli(['prove', dir, '99']).status, 2);
  });

  it("verify-proof shows a record's data with its bidi and line-separating characters escaped (a device's text could reorder the line)", () => {
    const bidiDir = path.join(tmp.dir, 'bidi');
    const a = runCli(['append', bidiDir, '--key', keyFile, '--name', 'example.com/bidi'], `${JSON.stringify({ type: 'reading', body: { note: 'ok \u202e gnp.exe', sep: 'a\u2028b' } })}\n`);
    assert.equal(a.status, 0, a.stderr);
    const out = path.join(tmp.dir, 'bidi.json');
    assert.equal(runCli(['prove', bidiDir, '0', '--out', out]).status, 0);
    const info = JSON.parse(runCli(['info', bidiDir, '--json']).stdout);
    const v = runCli(['verify-proof', out, '--key', info.gateway]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /body: +\{"sep":"a\\u2028b","note":"ok \\u202e gnp\.exe"\}\n/);
    assert.doesNotMatch(v.stdout, /[\u202e\u2028]/);
  });

  it('verify-proof reads a file only up to the largest bundle: a longer one, or /dev/zero, is ERR_MALFORMED_PROOF (exit 1)', () => {
    const key = JSON.parse(runCli(['info', dir, '--json']).stdout).gateway as string;
    const zeros = path.join(tmp.dir, 'zeros.json');
    // At the bound the file is read and judged as JSON; one byte more and it is refused by its size.
    fs.writeFileSync(zeros, '');
    fs.truncateSync(zeros, MAX_BUNDLE_BYTES);
    const at = runCli(['verify-proof', zeros, '--key', key]);
    assert.equal(at.status, 1, at.stderr);
    assert.match(at.stdout, /^invalid: .* is not JSON \(ERR_MALFORMED_PROOF\)/);
    fs.truncateSync(zeros, MAX_BUNDLE_BYTES + 1);
    // /dev/zero never ends: without the bound the command would not finish (runCli waits 120 s at most).
    for (const file of [zeros, '/dev/zero']) {
      const r = runCli(['verify-proof', file, '--key', key, '--json']);
      assert.equal(r.status, 1, `${file}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as { valid: boolean; code: string; reason: string };
      assert.deepEqual([out.valid, out.code], [false, 'ERR_MALFORMED_PROOF'], file);
      assert.match(out.reason, new RegExp(`is larger than ${MAX_BUNDLE_BYTES} bytes`), file);
    }
    fs.rmSync(zeros);
  });

  it('verify-proof - reads stdin only up to the largest bundle: /dev/zero on stdin is ERR_MALFORMED_PROOF (exit 1)', () => {
    const key = JSON.parse(runCli(['info', dir, '--json']).stdout).gateway as string;
    // Without the bound the command reads /dev/zero until it runs out of memory (or runCli's 120 s pass).
    const r = runCli(['verify-proof', '-', '--key', key, '--json'], { file: '/dev/zero' });
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { valid: boolean; code: string; reason: string };
    assert.deepEqual([out.valid, out.code], [false, 'ERR_MALFORMED_PROOF']);
    assert.match(out.reason, new RegExp(`^- is larger than ${MAX_BUNDLE_BYTES} bytes`));
  });

  it('info and firmware history show what the ledger says with its control and bidi characters escaped', async () => {
    const hostile = '\x1b[2J\x1b[31m\u202e\u2028';
    const unescaped = /[\p{Cc}\u202e\u2028]/u; // the newlines between lines aside (removed before matching)
    // A ledger handed over with an escape sequence in its name (planted in its meta: no ledger is
    // created with one, as no checkpoint could hold it); one with a bidi override seals too.
    const blank = path.join(tmp.dir, 'hostile-name');
    const name = 'evil\x1b[2J\x1b[31m\u202e'; // no U+2028: a name holds no white space
    const blankKey = generateKey('Ed25519');
    await (await Ledger.open(blank, { name: 'evil', gatewayKey: blankKey })).close();
    const raw = await openRawDb(blank);
    const meta = decodeMeta((await raw.get(META_KEY)) as Uint8Array);
    await raw.batch([{ type: 'put', key: META_KEY, value: metaValue({ ...meta, name, verifier: verifierKeyString(name, blankKey) }) }], { sync: true });
    await raw.close();
    const sealed = path.join(tmp.dir, 'hostile-bidi');
    const ledger = await Ledger.open(sealed, { name: 'evil\u202eledger', gatewayKey: generateKey('Ed25519') });
    await ledger.append({ type: 'note', body: 'x' });
    await ledger.close();
    for (const d of [blank, sealed]) {
      const r = runCli(['info', d]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout.replaceAll('\n', ''), unescaped);
      assert.match(r.stdout, /^name: {5}evil\\u/m);
    }
    assert.equal((JSON.parse(runCli(['info', blank, '--json']).stdout) as { name: string }).name, name, '--json keeps the value');
    const refused = runCli(['append', blank, '--key', keyFile, '--name', 'another'], '{"type":"note","body":1}\n');
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /is named "evil\\u001b\[2J/, 'an error quoting the name escapes it too');
    assert.doesNotMatch(refused.stderr.replaceAll('\n', ''), unescaped);
    const fw = path.join(tmp.dir, 'hostile-firmware');
    const body = { decision: 'approved', subject: 'update', device: deviceA, vendor: 'acme', class: `thermo${hostile}`, sequence: 1, version: `1.0${hostile}`, digest: '1'.repeat(64), size: 1, signer: deviceA, release: 0, at: 0 };
    const rejected = { decision: 'rejected', subject: 'update', reason: 'rollback', message: 'no', device: deviceA };
    const input = [body, rejected].map((b) => JSON.stringify({ type: 'firmware.decision', body: b })).join('\n');
    assert.equal(runCli(['append', fw, '--key', keyFile, '--name', 'example.com/fw2'], input).status, 0);
    const text = runCli(['firmware', 'history', fw]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /1\.0\\u001b\[2J\\u001b\[31m\\u202e\\u2028 \(seq 1, thermo\\u001b/);
    assert.doesNotMatch(text.stdout.replaceAll('\n', ''), unescaped);
  });
});
