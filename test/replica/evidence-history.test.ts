// A fork below the copy's end: the gateway key signs new blocks that chain to the copy's last
// block but cover another history than the copy's (records below the copy's size rewritten). The
// new blocks agree with the origin's checkpoint and tiles; what conflicts is the copy's own signed
// checkpoint and the origin's, and the evidence must show that offline.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey, keyToDid } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { openCheckpoint } from '../../lib/note/checkpoint';
import { httpTileFetch, Replicator, verifyEvidence, type Evidence } from '../../lib/replica';
import { keys, mutate, resealAfter } from '../support/audit-fixtures';
import { runCli } from '../support/cli';
import { tempDir } from '../support/ledger';
import { startTileServer } from '../support/tile-server';

const NAME = 'replica.history';

describe('replica evidence: new blocks signed over another history than the copy holds', function () {
  this.timeout(60000);
  const tmp = tempDir('replica-history-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const open = (dir: string): Promise<Ledger> => Ledger.open(dir, { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
  const notes = async (ledger: Ledger, from: number, count: number): Promise<void> => {
    await ledger.appendMany(Array.from({ length: count }, (_, i) => ({ type: 'note', body: { n: from + i } })));
    await ledger.seal();
  };
  after(() => tmp.cleanup());

  /**
   * A replica of 300 records (blocks 0-2), then a round against an origin whose blocks 0-2 are the
   * copy's, byte for byte, and whose records from 100 on are others, with new blocks ending at
   * `ends` chained to block 2 and signed over those records: the evidence file of its error.
   */
  async function evidenceAgainst(label: string, ends: number[]): Promise<{ file: string; evidence: Evidence }> {
    const gwDir = path.join(tmp.dir, `${label}-gateway`);
    const forkDir = path.join(tmp.dir, `${label}-fork`);
    const repDir = path.join(tmp.dir, `${label}-replica`);
    const gateway = await open(gwDir);
    await notes(gateway, 0, 100);
    await gateway.close();
    fs.cpSync(gwDir, forkDir, { recursive: true });
    const honest = await open(gwDir);
    await notes(honest, 100, 100);
    await notes(honest, 200, 100);
    const server = await startTileServer(honest);
    try {
      const r = await Replicator.open(repDir, { trustedKey: did, fetch: httpTileFetch(server.url) });
      assert.equal((await r.catchUp()).size, 300);
      await r.close();
      await honest.close();
      // The fork: other records from 100 on, blocks 0-2 as the copy holds them, new blocks after.
      const forked = await open(forkDir);
      await notes(forked, 5000, ends[ends.length - 1] - 100);
      await forked.close();
      const copied = new Map<number, Buffer>();
      await mutate(gwDir, async (db) => {
        for (const h of [1, 2]) copied.set(h, (await db.get(keys.block(h))) as Buffer);
      });
      await mutate(forkDir, async (db) => {
        for (const [h, v] of copied) await db.put(keys.block(h), v);
      });
      await resealAfter(forkDir, NAME, key, 2, ends);
      server.ledger = await open(forkDir);
      const round = await Replicator.open(repDir, { trustedKey: did, fetch: httpTileFetch(server.url) });
      const err = await round.catchUp().then(
        () => assert.fail('the round succeeded'),
        (e: unknown) => e,
      );
      await round.close();
      assert.ok(isLedgerError(err, 'ERR_REPLICA_FORK'), String(err));
      const file = String(err.details?.file);
      return { file, evidence: JSON.parse(fs.readFileSync(file, 'utf8')) as Evidence };
    } finally {
      await server.ledger?.close();
      await server.close();
    }
  }

  /** The evidence shows a roots conflict offline, with the gateway's did:key alone, in the library and the CLI. */
  function assertShown(file: string, evidence: Evidence): void {
    assert.equal(verifyEvidence(evidence, did), 'roots');
    const cli = runCli(['verify-evidence', file, '--key', did, '--json']);
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), { conflict: 'roots', origin: NAME });
  }

  it("one new block: the copy's checkpoint and the origin's, with the proof from the origin's tiles", async () => {
    const { file, evidence } = await evidenceAgainst('one', [400]);
    const [ours, theirs] = [openCheckpoint(evidence.ours), openCheckpoint(evidence.theirs)];
    assert.deepEqual([ours.size, theirs.size], [300, 400]);
    assert.deepEqual([evidence.proof?.size1, evidence.proof?.size2], [300, 400]);
    assertShown(file, evidence);
  });

  it("several new blocks: the same, from the copy's size to the origin checkpoint's", async () => {
    const { file, evidence } = await evidenceAgainst('several', [350, 420]);
    const [ours, theirs] = [openCheckpoint(evidence.ours), openCheckpoint(evidence.theirs)];
    assert.deepEqual([ours.size, theirs.size], [300, 420]);
    assertShown(file, evidence);
  });
});
