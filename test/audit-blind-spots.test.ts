// Issue 11: places where a changed ledger used to audit CLEAN or the report pointed at the
// wrong place. Each case damages a ledger written through the public API or CLI and checks
// the CLI's exit code and the place the first finding names.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { headerLine, openCheckpoint, signCheckpoint } from '../lib/note/checkpoint';
import { decodeCbor, encodeCbor } from '../lib/encoding/codec';
import { sha256 } from '../lib/crypto/hash';
import type { Finding } from '../lib/audit';
import { buildSampleLedger, copyDir, createLedger, forgeLedger, headValue, keys, mutate, readRecords, type SampleLedger } from './support/audit-fixtures';
import { auditLedger } from '../lib/audit';
import { runCli } from './support/cli';
import { encodeCbor as cbor } from '../lib/encoding/codec';
import { signContract, validateTerms } from '../lib/contracts';
import { generateKey, keyToDid, type PrivateKey } from '../lib/crypto';
import { signEnvelope } from '../lib/envelope/envelope';
import { isLedgerError } from '../lib/errors';
import { createReport } from '../lib/firmware';
import { ContractRunner, Gateway } from '../lib/gateway';
import { verifierKeyString } from '../lib/note/note';
import { recordFromMessage } from '../nodes/lib/record-message';
import { appendAll, makeDevice, tempDir } from './support/audit-fixtures';
import { leafHash, nodeHash } from '../lib/merkle';
import { nodeValue } from '../lib/ledger/layout';

interface CliAudit {
  status: number;
  findings: Finding[];
  omitted: number;
  stderr: string;
}

function audit(dir: string, key: string, ...extra: string[]): CliAudit {
  const r = runCli(['audit', dir, '--key', key, '--json', ...extra]);
  const report = r.stdout ? (JSON.parse(r.stdout) as { findings: Finding[]; omitted: number }) : { findings: [], omitted: 0 };
  return { status: r.status, findings: report.findings, omitted: report.omitted, stderr: r.stderr };
}

type Header = { v: number; height: number; prev: Uint8Array; first: number; size: number; root: Uint8Array; time: number };

/** Rewrites block `height`'s header and stores its recomputed hash (the checkpoint stays). */
async function rewriteHeader(dir: string, height: number, edit: (h: Header) => void): Promise<void> {
  await mutate(dir, async (db) => {
    const block = decodeCbor((await db.get(keys.block(height))) as Buffer) as { header: Uint8Array; hash: Uint8Array; checkpoint: string };
    const header = decodeCbor(block.header) as Header;
    edit(header);
    const bytes = encodeCbor(header);
    await db.put(keys.block(height), Buffer.from(encodeCbor({ header: bytes, hash: sha256(bytes), checkpoint: block.checkpoint })));
  });
}

describe('audit blind spots (issue 11)', function () {
  this.timeout(120000);
  let sample: SampleLedger;
  const dirs: string[] = [];
  const copy = (): string => {
    const d = copyDir(sample.dir);
    dirs.push(d);
    return d;
  };

  before(async () => {
    sample = await buildSampleLedger(undefined, { records: 40, blockRecords: 10 });
    dirs.push(sample.dir);
  });
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('the sample ledger audits clean', () => {
    const r = audit(sample.dir, sample.verifierKey);
    assert.equal(r.status, 0, JSON.stringify(r.findings));
  });

  describe('2. the newest block header is under a signature', () => {
    it('each checkpoint carries an "iot-ledger header" line with its block header hash', async () => {
      const ledger = await createLedger(copy(), { gatewayKey: sample.gatewayKey, name: sample.name });
      await ledger.append({ type: 'note', body: 'x' });
      const block = await ledger.seal();
      await ledger.close();
      assert.ok(block);
      const cp = openCheckpoint(block.checkpoint, sample.verifierKey);
      assert.deepEqual(cp.extensions, [`iot-ledger header ${block.height} ${Buffer.from(block.hash).toString('base64')}`]);
    });

    it('rewriting the newest header (time changed, hash recomputed) is found at that block', async () => {
      const dir = copy();
      const newest = sample.blocks - 1;
      await rewriteHeader(dir, newest, (h) => void (h.time += 1));
      const r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 1);
      assert.equal(r.findings[0].height, newest, JSON.stringify(r.findings));
      assert.equal(r.findings[0].kind, 'block-header');
      assert.equal(r.findings.length, 1, JSON.stringify(r.findings));
    });

    it('rewriting an older header is found at that block first', async () => {
      const dir = copy();
      await rewriteHeader(dir, 1, (h) => void (h.time -= 5));
      const r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 1);
      assert.equal(r.findings[0].height, 1, JSON.stringify(r.findings));
      assert.equal(r.findings[0].kind, 'block-header');
    });

    it('a ledger written before the header line: reported at its newest block until a new block is sealed', async () => {
      const dir = copy();
      // What an earlier version wrote: the same checkpoints without the extension line.
      await mutate(dir, async (db) => {
        for (let h = 0; h < sample.blocks; h++) {
          const block = decodeCbor((await db.get(keys.block(h))) as Buffer) as { header: Uint8Array; hash: Uint8Array; checkpoint: string };
          const cp = openCheckpoint(block.checkpoint);
          const old = signCheckpoint({ ...cp, extensions: [] }, sample.name, sample.gatewayKey);
          await db.put(keys.block(h), Buffer.from(encodeCbor({ ...block, checkpoint: old })));
        }
      });
      let r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 1);
      assert.deepEqual(
        r.findings.map((f) => [f.kind, f.height]),
        [['block-header', sample.blocks - 1]],
      );
      const ledger = await createLedger(dir, { gatewayKey: sample.gatewayKey, name: sample.name });
      await ledger.append({ type: 'note', body: 'after the upgrade' });
      await ledger.seal();
      await ledger.close();
      r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 0, JSON.stringify(r.findings));
    });
  });

  describe('a block without records', () => {
    it('an empty block the gateway key signed after the last one (a second header of that tree size) is a block-header finding at it', async () => {
      const dir = copy();
      const last = sample.blocks - 1;
      await mutate(dir, async (db) => {
        const block = decodeCbor((await db.get(keys.block(last))) as Buffer) as { header: Uint8Array; hash: Uint8Array; checkpoint: string };
        const prev = decodeCbor(block.header) as Header;
        const header = encodeCbor({ v: 1, height: last + 1, prev: block.hash, first: prev.size, size: prev.size, root: prev.root, time: prev.time + 1 });
        const hash = sha256(header);
        const cp = openCheckpoint(block.checkpoint);
        const checkpoint = signCheckpoint({ ...cp, extensions: [headerLine(last + 1, hash)] }, sample.name, sample.gatewayKey);
        await db.put(keys.block(last + 1), Buffer.from(encodeCbor({ header, hash, checkpoint })));
        await db.put(keys.head(), headValue(prev.size, last + 2, prev.size));
      });
      const r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 1);
      assert.ok(
        r.findings.some((f) => f.kind === 'block-header' && f.height === last + 1 && /no records/.test(f.detail)),
        JSON.stringify(r.findings),
      );
    });
  });

  describe('8. envelopes are stored as JWS compact text or COSE_Sign1 bytes, nothing else', () => {
    it('a ledger rewritten by the gateway key holder, unchanged otherwise, audits clean (the forger is honest)', async () => {
      const dir = await forgeLedger(sample, () => undefined);
      dirs.push(dir);
      const r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 0, JSON.stringify(r.findings));
    });

    it('append refuses COSE given as hex or base64 text, and a JWS given as bytes, naming the line', async () => {
      const records = await readRecords(sample.dir);
      const cose = records.find((r) => r.envelope instanceof Uint8Array)?.envelope as Uint8Array;
      const jws = records.find((r) => typeof r.envelope === 'string')?.envelope as string;
      assert.ok(cose && jws);
      const dir = copy();
      const keyFile = `${dir}.key`;
      dirs.push(keyFile);
      const cases = [
        { envelope: Buffer.from(cose).toString('hex') },
        { envelope: Buffer.from(cose).toString('base64') },
        { envelope: { hex: Buffer.from(jws).toString('hex') } },
      ];
      for (const c of cases) {
        const line = JSON.stringify({ type: 'reading', body: { temperature: -20 }, ...c });
        const r = runCli(['append', `${dir}-new`, '--key', keyFile, '--name', 'x.example'], `{"type":"note"}\n${line}\n`);
        dirs.push(`${dir}-new`);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /line 2: .*(JWS compact|not a COSE_Sign1).*ERR_MALFORMED_RECORD/);
      }
    });

    it('a COSE envelope stored as hex text is found at that record', async () => {
      let at = -1;
      const dir = await forgeLedger(sample, (records) => {
        at = records.findIndex((r) => r.envelope instanceof Uint8Array);
        records[at].envelope = Buffer.from(records[at].envelope as Uint8Array).toString('hex');
      });
      dirs.push(dir);
      const r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 1);
      assert.equal(r.findings[0].index, at, JSON.stringify(r.findings));
      assert.equal(r.findings[0].kind, 'record-decode');
      assert.match(r.findings[0].detail, /JWS compact/);
    });
  });

  describe('1. a value the device signed cannot be changed: the body is what the payload decodes to', () => {
    const gatewayKey: PrivateKey = generateKey('Ed25519');
    const name = 'signed.ledger';
    const verifier = verifierKeyString(name, gatewayKey);
    const party = generateKey('Ed25519');
    const at: Record<string, number> = {};
    let dir: string;

    /** What the Verify node and then the Record node do with one device message. */
    async function verifyAndRecord(gw: Gateway, sent: string | Uint8Array, change?: (payload: Record<string, unknown>) => void): Promise<number> {
      const v = await gw.verify(sent);
      const msg: Record<string, unknown> = {
        payload: v.payload,
        device: { id: v.device.did },
        envelope: typeof v.envelope === 'string' ? v.envelope : Buffer.from(v.envelope),
        verified: { counter: v.freshness.counter, time: v.freshness.time, proof: v.proof },
      };
      change?.(msg.payload as Record<string, unknown>);
      return (await gw.recordMessage(recordFromMessage(msg, 'reading'), msg.verified)).index;
    }

    before(async () => {
      dir = tempDir('audit-signed-');
      dirs.push(dir);
      const gw = await Gateway.open(dir, { name, gatewayKey, blockRecords: 10, blockSeconds: 0 });
      const a = makeDevice('Ed25519', 'jws');
      const b = makeDevice('ES256', 'cose');
      await gw.enrol({ did: a.did, name: 'a' });
      await gw.enrol({ did: b.did, name: 'b' });
      // JSON: a float, -0 (recorded as 0), 1e400 (Infinity: recorded as null), a date string (stays text).
      const json = '{"temperature":-21.4,"counter":1,"neg":-0,"huge":1e400,"when":"2026-12-05T04:00:00Z"}';
      at.json = await verifyAndRecord(gw, signEnvelope(json, a.key, { kid: a.did }));
      // CBOR in COSE, sent as hex text: NaN (recorded as null) and a nested byte string (stays bytes).
      const payload = cbor({ temperature: -20.5, counter: 1, nan: NaN, raw: { bytes: Uint8Array.of(1, 2, 3) } });
      const cose = signEnvelope(payload, b.key, { format: 'cose', kid: b.did }) as Uint8Array;
      at.cose = await verifyAndRecord(gw, Buffer.from(cose).toString('hex'));
      const terms = validateTerms({
        id: 'room-1',
        version: 1,
        title: 'below -18',
        subjects: 'any',
        metric: 'temperature',
        rule: { op: '<', limit: -18 },
        alarm: { mode: 'instant' },
        parties: [keyToDid(party)],
      });
      const runner = await ContractRunner.load(gw, terms);
      at.sign = (await runner.sign(signContract(terms, party))).index;
      const fw = await gw.firmware();
      const report = createReport({ class: 'probe-v1', version: '1.2.0', sequence: 12, digest: 'ab'.repeat(32), counter: 1 }, a.key);
      const outcome = await fw.report(report, a.did);
      assert.equal(outcome.decision, 'recorded', JSON.stringify(outcome.body));
      at.report = outcome.receipt.index;
      // A changed payload is refused, not recorded beside the signature.
      await assert.rejects(
        verifyAndRecord(gw, signEnvelope({ temperature: -19.5, counter: 2 }, a.key, { kid: a.did }), (p) => void (p.temperature = -25)),
        (err: unknown) => isLedgerError(err, 'ERR_INVALID_ARGUMENT') && /not the payload the device signed/.test((err as Error).message),
      );
      await gw.close();
    });

    it('a ledger the gateway wrote (readings in JSON and COSE, a contract signature, a firmware report) audits clean', async () => {
      const r = audit(dir, verifier);
      assert.equal(r.status, 0, JSON.stringify(r.findings));
      const records = await readRecords(dir);
      assert.deepEqual(records[at.json].body, { temperature: -21.4, counter: 1, neg: 0, huge: null, when: '2026-12-05T04:00:00Z' });
      assert.deepEqual(records[at.cose].body, { temperature: -20.5, counter: 1, nan: null, raw: { bytes: Uint8Array.of(1, 2, 3) } });
      assert.ok(records[at.cose].envelope instanceof Uint8Array, 'COSE received as hex text is stored as bytes');
      assert.equal(records[at.sign].type, 'contract.sign');
      assert.equal(records[at.report].type, 'firmware.report');
    });

    const forged: [string, string, (body: Record<string, unknown>) => void, RegExp][] = [
      ['a JSON reading', 'json', (b) => void (b.temperature = -30), /body\.temperature is -30, the signed payload gives -21\.4/],
      ['a COSE reading', 'cose', (b) => void ((b.raw as Record<string, unknown>).bytes = Uint8Array.of(9)), /body\.raw\.bytes/],
      ['a contract signature', 'sign', (b) => void (b.termsHash = '00'.repeat(32)), /body\.termsHash/],
      ['a firmware report', 'report', (b) => void (b.version = '0.9.0'), /body\.version is "0\.9\.0"/],
    ];
    for (const [what, key, change, detail] of forged) {
      it(`${what} whose body was changed (and every hash and checkpoint re-signed) is a body-mismatch at that record`, async () => {
        const out = await forgeLedger({ dir, name, gatewayKey }, (records) => change(records[at[key]].body as Record<string, unknown>));
        dirs.push(out);
        const r = audit(out, verifier);
        assert.equal(r.status, 1);
        assert.equal(r.findings[0].kind, 'body-mismatch', JSON.stringify(r.findings));
        assert.equal(r.findings[0].index, at[key]);
        assert.match(r.findings[0].detail, detail);
      });
    }

    it('a signed record whose body was removed is a body-mismatch too', async () => {
      const out = await forgeLedger({ dir, name, gatewayKey }, (records) => void delete records[at.json].body);
      dirs.push(out);
      const r = audit(out, verifier);
      assert.equal(r.status, 1);
      assert.deepEqual([r.findings[0].kind, r.findings[0].index], ['body-mismatch', at.json]);
    });
  });

  describe('3. the first finding is the altered record, then the nodes it breaks', () => {
    let big: { dir: string; key: string };
    before(async () => {
      const dir = tempDir('audit-order-');
      dirs.push(dir);
      const gatewayKey = generateKey('Ed25519');
      const ledger = await createLedger(dir, { gatewayKey, name: 'order.ledger', blockRecords: 500 });
      await appendAll(ledger, Array.from({ length: 2100 }, (_, i) => ({ type: 'note', body: { i } })));
      await ledger.close();
      big = { dir, key: verifierKeyString('order.ledger', gatewayKey) };
    });

    /**
     * Replaces record i by `bytes`, its stored leaf hash recomputed (and, with `node`, the lowest
     * stored node over it too: level 1, the pair, in format 4).
     */
    async function putRecord(db: Parameters<Parameters<typeof mutate>[1]>[0], i: number, bytes: Uint8Array, node: boolean): Promise<void> {
      const leaf = leafHash(bytes);
      await db.put(keys.record(i), Buffer.concat([Buffer.from(leaf), Buffer.from(bytes)]));
      if (!node) return;
      const sibling = i ^ 1;
      const other = ((await db.get(keys.record(sibling))) as Buffer).subarray(0, 32);
      const pair = i % 2 === 0 ? nodeHash(leaf, other) : nodeHash(other, leaf);
      await db.put(keys.node(1, i >> 1), nodeValue(keys.node(1, i >> 1), pair));
    }
    const recordBytes = async (db: Parameters<Parameters<typeof mutate>[1]>[0], i: number): Promise<Uint8Array> =>
      ((await db.get(keys.record(i))) as Buffer).subarray(32);
    const edited = (bytes: Uint8Array): Uint8Array => {
      const r = decodeCbor(bytes) as Record<string, unknown>;
      return encodeCbor({ ...r, body: { i: -1 } });
    };

    it('the untouched ledger audits clean', () => {
      assert.equal(audit(big.dir, big.key).status, 0);
    });

    it('record 1234 edited, its leaf hash recomputed: the record first, then the nodes over it', async () => {
      const dir = copyDir(big.dir);
      dirs.push(dir);
      await mutate(dir, async (db) => putRecord(db, 1234, edited(await recordBytes(db, 1234)), false));
      const r = audit(dir, big.key);
      assert.equal(r.status, 1);
      // Format 4 keeps one copy of a leaf hash (before the record): the lowest stored node, over
      // the pair 1234..1235, is the first finding; then the nodes over it and the later block roots.
      assert.deepEqual([r.findings[0].kind, r.findings[0].index], ['merkle-node', 1234], JSON.stringify(r.findings));
      assert.match(r.findings[0].detail, /level 1, index 617\) over records 1234\.\.1235/);
      assert.ok(r.findings.every((f) => f.kind === 'merkle-node' || (f.kind === 'block-root' && (f.height as number) >= 2)), JSON.stringify(r.findings));
      const levels = r.findings.filter((f) => f.kind === 'merkle-node').map((f) => Number(/level (\d+)/.exec(f.detail)?.[1]));
      assert.deepEqual(levels, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    it('record 1234 edited with its leaf hash and the level-1 node over it recomputed: the lowest broken node names it', async () => {
      const dir = copyDir(big.dir);
      dirs.push(dir);
      await mutate(dir, async (db) => putRecord(db, 1234, edited(await recordBytes(db, 1234)), true));
      const r = audit(dir, big.key);
      assert.equal(r.status, 1);
      assert.equal(r.findings[0].index, 1232, JSON.stringify(r.findings));
      assert.match(r.findings[0].detail, /level 2, index 308\) over records 1232\.\.1235 differs/);
    });

    it('records 1000 and 1002 swapped: both records first, then the nodes', async () => {
      const dir = copyDir(big.dir);
      dirs.push(dir);
      await mutate(dir, async (db) => {
        const a = await recordBytes(db, 1000);
        const b = await recordBytes(db, 1002);
        await putRecord(db, 1000, b, false);
        await putRecord(db, 1002, a, false);
      });
      const r = audit(dir, big.key);
      assert.equal(r.status, 1);
      // In ledger order: the pair nodes over 1000..1001 and 1002..1003 (the lowest stored level), then the rest.
      assert.deepEqual([r.findings[0].kind, r.findings[0].index], ['merkle-node', 1000], JSON.stringify(r.findings));
      assert.match(r.findings[0].detail, /level 1, index 500\)/);
      assert.deepEqual([r.findings[1].kind, r.findings[1].index], ['merkle-node', 1002]);
      assert.match(r.findings[1].detail, /level 1, index 501\)/);
      assert.ok(r.findings.slice(2).every((f) => f.kind === 'merkle-node' || f.kind === 'block-root'), JSON.stringify(r.findings));
    });
  });

  describe('4. the audit costs what is stored, not what is claimed', () => {
    for (const claimed of [2 ** 53 - 1, 1e7]) {
      it(`a head rewritten to claim ${claimed} records (hash recomputed): a few findings, not a pass over every index`, async () => {
        const dir = copy();
        await mutate(dir, async (db) => db.put(keys.head(), headValue(claimed, sample.blocks, sample.size)));
        const r = audit(dir, sample.verifierKey);
        assert.equal(r.status, 1, r.stderr);
        // The records the head claims beyond what is stored: a run to the end of the first
        // chunk (1024) and one for everything after it; then the head itself.
        assert.deepEqual(
          r.findings.map((f) => [f.kind, f.index]),
          [
            ['missing', sample.size],
            ['missing', 1024],
            ['head', undefined],
          ],
          JSON.stringify(r.findings),
        );
        assert.equal(r.findings[0].detail, `records ${sample.size}..1023 are missing (${1024 - sample.size} records)`);
        assert.match(r.findings[1].detail, new RegExp(`^records 1024\\.\\.${claimed - 1} are missing`));
        assert.equal(r.omitted, 0);
      });
    }

    it('stray keys far ahead (a record at 10^12, a block at height 2^40) cost one finding per run of missing data', async () => {
      const dir = copy();
      await mutate(dir, async (db) => {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(0x100, 0); // 2^40
        await db.put(keys.record(1e12), (await db.get(keys.record(5))) as Buffer);
        await db.put(Buffer.concat([Buffer.from('b'), b]), (await db.get(keys.block(0))) as Buffer);
      });
      const r = audit(dir, sample.verifierKey);
      assert.equal(r.status, 1, r.stderr);
      const first = r.findings.find((f) => f.index !== undefined);
      assert.deepEqual([first?.kind, first?.index], ['missing', sample.size], JSON.stringify(r.findings.slice(0, 3)));
      assert.equal(first?.detail, 'records 40..1023 are missing (984 records)');
      const runs = r.findings.filter((f) => f.kind === 'missing' && f.index !== undefined).map((f) => f.detail);
      assert.ok(runs.includes(`records 1024..${Math.floor(1e12 / 1024) * 1024 - 1} are missing (${Math.floor(1e12 / 1024) * 1024 - 1024} records)`), JSON.stringify(runs));
      const blocks = r.findings.filter((f) => f.kind === 'missing' && f.height !== undefined);
      assert.deepEqual(blocks.map((f) => f.detail), [`blocks ${sample.blocks}..${2 ** 40 - 1} are missing (${2 ** 40 - sample.blocks} blocks)`]);
      assert.ok(r.findings.length + r.omitted < 5000, `${r.findings.length} + ${r.omitted} findings`);
    });

    it('findings are capped, with a count of the rest', async () => {
      const dir = copy();
      await mutate(dir, async (db) => {
        for (let i = 0; i < sample.size; i++) {
          const v = (await db.get(keys.record(i))) as Buffer;
          v[40] ^= 1;
          await db.put(keys.record(i), v);
        }
      });
      const all = await auditLedger(dir, { trustedKey: sample.verifierKey });
      assert.ok(all.findings.length >= sample.size);
      const capped = await auditLedger(dir, { trustedKey: sample.verifierKey, maxFindings: 5 });
      assert.deepEqual(capped.findings, all.findings.slice(0, 5));
      assert.equal(capped.omitted, all.findings.length - 5);
    });
  });
});
