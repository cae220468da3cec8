import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { consistencyProof, leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { signCheckpoint } from '../../lib/note/checkpoint';
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
} from '../../lib/witness';
import { tempDir } from '../support/ledger';

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
    // Anyone who can reach the witness replays the log's next checkpoint (public on its tiles) with
    // a wrong proof, each time with another signature line by an unknown key (ignored, as Go does).
    const wrongProof = consistencyProof(leaves, 5, 8).reverse();
    for (let i = 0; i < 20; i++) {
      const checkpoint = `${cpAt(8)}\u2014 junk${i}.example AAAAAAAAAAAA\n`;
      const r = await service.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: wrongProof, checkpoint }));
      assert.equal(r.status, 422, r.body);
      assert.equal(r.evidenceFresh, i === 0);
    }
    assert.equal(state.evidence().length, 1);
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
});
