import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { consistencyProof, leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { headerLine, signCheckpoint } from '../../lib/note/checkpoint';
import { verifierKeyString } from '../../lib/note/note';
import { openNote } from '../../lib/note/note-open';
import {
  cosignatureVerifier,
  formatAddCheckpoint,
  logVerifier,
  parseWitnessedLogs,
  parseWitnessKey,
  WitnessService,
  WitnessState,
  witnessVerifierKey,
  MAX_EVIDENCE_PER_ORIGIN,
  evidenceOriginId,
} from '../../lib/witness';
import { tempDir } from '../support/ledger';
import { isLedgerError } from '../../lib/errors';

// The witness service on a real state directory: what a request can make it keep on disk.
describe('witness state: what a request can make it keep', () => {
  const ORIGIN = 'gw.example/evidence';
  const gw = generateKey('Ed25519');
  const leaves = Array.from({ length: 8 }, (_, i) => leafHash(Uint8Array.of(i)));
  const cpAt = (size: number) => signCheckpoint({ origin: ORIGIN, size, root: rootFromLeafHashes(leaves.slice(0, size)), extensions: [] }, ORIGIN, gw);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('keeps one evidence file per pair of signed checkpoints, whatever unsigned lines the request adds', async () => {
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    // The log signed another tree of 5: whoever holds that note sends it again and again, each
    // time with another signature line by an unknown key (ignored, as Go does).
    const forked = signCheckpoint({ origin: ORIGIN, size: 5, root: rootFromLeafHashes([...leaves.slice(0, 4), leaves[7]]), extensions: [] }, ORIGIN, gw);
    for (let i = 0; i < 20; i++) {
      const checkpoint = `${forked}\u2014 junk${i}.example AAAAAAAAAAAA\n`;
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint }));
      assert.equal(r.status, 409, r.body);
      assert.equal(r.evidenceFresh, i === 0);
    }
    assert.equal(state.evidence().length, 1);
  });

  it("keeps no evidence for the log's next checkpoint sent with a wrong proof (the proof is not the log's)", async () => {
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    // Public on the log's tiles before the gateway sends it: anyone can send it first.
    const wrongProof = consistencyProof(leaves, 5, 8).reverse();
    for (let i = 0; i < 3; i++) {
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: wrongProof, checkpoint: `${cpAt(8)}\u2014 junk${i}.example AAAAAAAAAAAA\n` }));
      assert.equal(r.status, 422, r.body);
      assert.equal(r.evidence, undefined);
    }
    assert.deepEqual(state.evidence(), []);
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: consistencyProof(leaves, 5, 8), checkpoint: cpAt(8) }))).status, 200);
  });

  it('keeps no evidence when the checkpoint it cosigned comes back with proof lines (nothing to compare)', async () => {
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: consistencyProof(leaves, 5, 8), checkpoint: cpAt(8) }))).status, 200);
    const latest = service.latest(ORIGIN)!;
    for (const proof of [[leaves[0]], consistencyProof(leaves, 5, 8)]) {
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 8, proof, checkpoint: latest }));
      assert.equal(r.status, 422, r.body);
      assert.equal(r.evidence, undefined);
    }
    assert.deepEqual(state.evidence(), []);
  });

  it('keeps and serves the cosigned checkpoint with the log\'s signature and its own, not the lines a request added', async () => {
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const wkey = generateKey('Ed25519');
    const service = new WitnessService({ cosigner: { name: 'w.example', key: wkey }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    // 99 signature lines by unknown keys: the request's note holds the 100 a note may hold.
    const junk = Array.from({ length: 99 }, (_, i) => `\u2014 junk${i}.example AAAAAAAA\n`).join('');
    const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: `${cpAt(5)}${junk}` }));
    assert.equal(r.status, 200, r.body);
    const latest = service.latest(ORIGIN) ?? '';
    const opened = openNote(latest, [logVerifier(verifierKeyString(ORIGIN, gw), ORIGIN), cosignatureVerifier(parseWitnessKey(witnessVerifierKey('w.example', wkey)))]);
    assert.equal(opened.verified.length, 2);
    assert.equal(latest, `${cpAt(5)}${r.body}`);
  });

  it('reads no state and waits in no queue for an unknown origin or a checkpoint without a valid signature by the log', async () => {
    // A state that counts what requests make it do.
    class CountingState extends WitnessState {
      reads = 0;
      turns = 0;
      override latest(origin: string) {
        this.reads++;
        return super.latest(origin);
      }
      override exclusive<T>(origin: string, fn: () => T | Promise<T>): Promise<T> {
        this.turns++;
        return super.exclusive(origin, fn);
      }
    }
    const state = new CountingState(path.join(tmp.dir, 'w'));
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    state.reads = 0;
    state.turns = 0;
    const forger = generateKey('Ed25519');
    const sign = (origin: string, key = forger) => signCheckpoint({ origin, size: 8, root: rootFromLeafHashes(leaves), extensions: [] }, ORIGIN, key);
    // The log's key name and key ID (both public) on a signature by another key.
    const forged = sign(ORIGIN).replace(/ (\S+)\n$/, (_, b64: string) => {
      const blob = Buffer.from(b64, 'base64');
      blob.set(Buffer.from(cpAt(5).match(/ (\S+)\n$/)![1], 'base64').subarray(0, 4));
      return ` ${blob.toString('base64')}\n`;
    });
    for (const [checkpoint, status] of [
      [sign('someone.else/log'), 404],
      [sign(ORIGIN), 403],
      [forged, 403],
    ] as const) {
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: consistencyProof(leaves, 5, 8), checkpoint }));
      assert.equal(r.status, status, r.body);
    }
    assert.deepEqual({ reads: state.reads, turns: state.turns }, { reads: 0, turns: 0 });
    // So a state the witness cannot read fails only requests the log signed, not everyone's.
    const file = fs.readdirSync(state.dir).find((f) => f.endsWith('.json'))!;
    fs.writeFileSync(path.join(state.dir, file), '{ not json');
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: forged }))).status, 403);
    await assert.rejects(service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: consistencyProof(leaves, 5, 8), checkpoint: cpAt(8) })), (e: unknown) =>
      isLedgerError(e, 'ERR_WITNESS_STATE'),
    );
  });

  it('cosigns the checkpoint it holds again without writing its state again (a replay costs no disk write)', async () => {
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    const file = path.join(state.dir, fs.readdirSync(state.dir).find((f) => f.endsWith('.json'))!);
    // A second name for the file written: a durable write renames a new file over the first name.
    fs.linkSync(file, path.join(tmp.dir, 'held.json'));
    const untouched = (): boolean => fs.statSync(file).nlink === 2;
    const held = service.latest(ORIGIN)!;
    // The latest is public (GET <path>/checkpoint): anyone can send it, or the log's note, again and again.
    for (const checkpoint of [held, cpAt(5), held, `${cpAt(5)}\u2014 junk.example AAAAAAAA\n`]) {
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint }));
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /^\u2014 w\.example \S+\n$/);
    }
    assert.ok(untouched(), 'the state file was written again');
    assert.equal(service.latest(ORIGIN), held);
    // A larger checkpoint is written.
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: consistencyProof(leaves, 5, 8), checkpoint: cpAt(8) }))).status, 200);
    assert.ok(service.latest(ORIGIN)!.startsWith(cpAt(8)));
  });

  it('refuses a note of the size it holds with the same root but another block header line: 409 with its size, the first kept, evidence once per pair', async () => {
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    const root = rootFromLeafHashes(leaves.slice(0, 5));
    // Two blocks of one tree size, signed by the log's key: two block chains (the header line commits the header).
    const noteFor = (header: number) => signCheckpoint({ origin: ORIGIN, size: 5, root, extensions: [headerLine(2, new Uint8Array(32).fill(header))] }, ORIGIN, gw);
    const first = noteFor(1);
    const second = noteFor(2);
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: first }))).status, 200);
    const held = service.latest(ORIGIN)!;
    const seen: Array<[number, string, string | undefined, boolean | undefined]> = [];
    // As a gateway would send it (old = the size held), again (a retry), and with a stale old size.
    for (const oldSize of [5, 5, 0]) {
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize, proof: [], checkpoint: second }));
      seen.push([r.status, r.body, r.evidence?.kind, r.evidenceFresh]);
      assert.equal(r.evidence?.latest, held);
      assert.equal(r.evidence?.submitted, second);
    }
    assert.deepEqual(seen, [
      [409, '5\n', 'equivocation', true],
      [409, '5\n', 'equivocation', false],
      [409, '5\n', 'equivocation', false],
    ]);
    assert.equal(state.evidence().length, 1);
    assert.equal(service.latest(ORIGIN), held);
    // The note held is still cosigned, and the log goes on from it.
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: first }))).status, 200);
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: consistencyProof(leaves, 5, 8), checkpoint: cpAt(8) }))).status, 200);
  });
  it('keeps at most MAX_EVIDENCE_PER_ORIGIN evidence files per origin: a log that signs forks at will cannot fill the disk; another origin still gets its own', async () => {
    const OTHER = 'gw.example/other';
    const gw2 = generateKey('Ed25519');
    const state = new WitnessState(path.join(tmp.dir, 'w'));
    const logs = parseWitnessedLogs(`${verifierKeyString(ORIGIN, gw)}\n${verifierKeyString(OTHER, gw2)}`);
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs, state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    // The log's key signs another tree of 5 each time (another root: leaf 4 is anything).
    const fork = (i: number, origin = ORIGIN, key = gw) => {
      const root = rootFromLeafHashes([...leaves.slice(0, 4), leafHash(Buffer.from(`fork ${i}`))]);
      return signCheckpoint({ origin, size: 5, root, extensions: [] }, origin, key);
    };
    const fresh: boolean[] = [];
    for (let i = 0; i < MAX_EVIDENCE_PER_ORIGIN + 20; i++) {
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: fork(i) }));
      assert.equal(r.status, 409, r.body);
      assert.equal(r.evidence?.kind, 'equivocation');
      assert.equal(r.evidenceDropped, i >= MAX_EVIDENCE_PER_ORIGIN ? true : undefined);
      fresh.push(r.evidenceFresh === true);
    }
    assert.deepEqual(fresh, Array.from({ length: MAX_EVIDENCE_PER_ORIGIN + 20 }, (_, i) => i < MAX_EVIDENCE_PER_ORIGIN));
    assert.equal(state.evidence().length, MAX_EVIDENCE_PER_ORIGIN);
    assert.ok(state.evidence().every((f) => path.basename(f).startsWith(`${evidenceOriginId(ORIGIN)}-`)));
    // A fork kept before is still known as kept (not fresh, not dropped).
    const again = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: fork(0) }));
    assert.deepEqual([again.evidenceFresh, again.evidenceDropped, again.evidenceFile !== undefined], [false, undefined, true]);
    // The other origin's first fork is kept: the bound is per origin.
    const otherAt5 = signCheckpoint({ origin: OTHER, size: 5, root: rootFromLeafHashes(leaves.slice(0, 5)), extensions: [] }, OTHER, gw2);
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: otherAt5 }))).status, 200);
    const other = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: fork(0, OTHER, gw2) }));
    assert.equal(other.evidenceFresh, true);
    assert.equal(state.evidence().length, MAX_EVIDENCE_PER_ORIGIN + 1);
  });

  it('knows a pair kept by an earlier version under its old name (<pair>-<kind>.json) as kept', async () => {
    const dir = path.join(tmp.dir, 'w');
    const state = new WitnessState(dir);
    const service = new WitnessService({ cosigner: { name: 'w.example', key: generateKey('Ed25519') }, logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)), state });
    assert.equal((await service.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cpAt(5) }))).status, 200);
    const forked = signCheckpoint({ origin: ORIGIN, size: 5, root: rootFromLeafHashes([...leaves.slice(0, 4), leaves[7]]), extensions: [] }, ORIGIN, gw);
    const first = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: forked }));
    assert.equal(first.evidenceFresh, true);
    // As an earlier version named it.
    const legacy = path.join(dir, 'evidence', path.basename(first.evidenceFile!).slice(evidenceOriginId(ORIGIN).length + 1));
    fs.renameSync(first.evidenceFile!, legacy);
    const again = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [], checkpoint: forked }));
    assert.deepEqual([again.evidenceFresh, again.evidenceFile], [false, legacy]);
    assert.deepEqual(state.evidence(), [legacy]);
  });
});
