import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { sha256 } from '../../lib/crypto/hash';
import { decodeCbor, encodeCbor, type CborValue } from '../../lib/encoding/codec';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { blockKey, blockValue, decodeBlockValue } from '../../lib/ledger/layout';
import { headerLine } from '../../lib/note/checkpoint';
import { resigned, withResignedCheckpoint } from '../support/resigned-checkpoint';
import { httpTileFetch, Replicator } from '../../lib/replica';
import { EVIDENCE_DIR } from '../../lib/replica/evidence';
import { decodeBlockBundle, encodeBlockBundle } from '../../lib/tiles/content';
import { tilePath } from '../../lib/tiles/path';
import type { TileFetch } from '../../lib/tiles/verify';
import { tempDir } from '../support/ledger';
import { openRawDb } from '../support/raw-db';
import { startTileServer, type TileServer } from '../support/tile-server';

/** Re-signs the checkpoints of blocks `heights` of the closed ledger in `dir` as an earlier version wrote them: without the header line. */
async function asLegacyCheckpoints(dir: string, heights: number[], name: string, key: PrivateKey): Promise<void> {
  const db = await openRawDb(dir);
  try {
    for (const h of heights) {
      const block = decodeBlockValue((await db.get(blockKey(h)))!, h);
      await db.put(blockKey(h), blockValue({ ...block, checkpoint: resigned(block.checkpoint, [], name, key) }));
    }
  } finally {
    await db.close();
  }
}

/** One suite's gateway: its key, directories and tile server (the gateway and server are set before the suite's tests and closed after them). */
interface Suite {
  name: string;
  key: PrivateKey;
  did: string;
  tmp: ReturnType<typeof tempDir>;
  gwDir: string;
  repDir: string;
  open(): Promise<Ledger>;
  gateway: Ledger;
  server: TileServer;
}

/**
 * A suite whose gateway, `records` notes in blocks of `blockRecords`, has checkpoints as an earlier
 * version wrote them (without the header line), served over HTTP tiles.
 */
function legacySuite(name: string, records: number, blockRecords: number): Suite {
  const tmp = tempDir(`${name}-`);
  const key = generateKey('Ed25519');
  const gwDir = path.join(tmp.dir, 'gw');
  const suite = {
    name,
    key,
    did: keyToDid(key),
    tmp,
    gwDir,
    repDir: path.join(tmp.dir, 'replica'),
    open: (): Promise<Ledger> => Ledger.open(gwDir, { name, gatewayKey: key, blockRecords, blockSeconds: 0 }),
  } as Suite;
  before(async () => {
    const gateway = await suite.open();
    await gateway.appendMany(Array.from({ length: records }, (_, i) => ({ type: 'note', body: { i } })));
    await gateway.seal();
    await gateway.close();
    await asLegacyCheckpoints(gwDir, Array.from({ length: Math.ceil(records / blockRecords) }, (_, h) => h), name, key);
    suite.gateway = await suite.open();
    suite.server = await startTileServer(suite.gateway);
  });
  after(async () => {
    await suite.server.close();
    await suite.gateway.close();
    tmp.cleanup();
  });
  return suite;
}

/** Catches the suite's replica up through `fetch`, which must bring it to `size` records, and closes it. */
async function copyThrough(suite: Suite, fetch: TileFetch, size: number): Promise<void> {
  const r = await Replicator.open(suite.repDir, { trustedKey: suite.did, fetch });
  try {
    assert.equal((await r.catchUp()).size, size);
  } finally {
    await r.close();
  }
}

/**
 * A served block bundle with block `h`'s header time changed and its hash recomputed, and the
 * blocks after it up to `to` chained to the new hashes; the checkpoints as signed.
 */
function retimed(bundle: Uint8Array, width: number, h: number, to = h): Uint8Array {
  const raws = decodeBlockBundle(bundle, width);
  let prev: Uint8Array | undefined;
  for (let i = h; i <= to; i++) {
    const block = decodeBlockValue(raws[i], i);
    const header = decodeCbor(block.header) as Record<string, CborValue>;
    const bytes = encodeCbor({ ...header, time: (header.time as number) + (i === h ? 1 : 0), prev: prev ?? header.prev });
    prev = sha256(bytes);
    raws[i] = blockValue({ header: bytes, hash: prev, checkpoint: block.checkpoint });
  }
  return encodeBlockBundle(raws);
}

// Checkpoints written before format 2 carry no `iot-ledger header` line: their block headers are
// not under the signature, so whoever serves the blocks can change those bytes.
describe('replica: blocks whose checkpoints predate the header line', function () {
  this.timeout(30_000);
  const suite = legacySuite('replica.legacy.test', 25, 10);

  it('a block served with other header bytes under the checkpoint the copy holds is a bad tile (no fork, no rollback, no evidence); the honest origin is then followed', async () => {
    const honest = httpTileFetch(suite.server.url);
    try {
      const replica = await Replicator.open(suite.repDir, { trustedKey: suite.did, fetch: honest });
      assert.equal((await replica.catchUp()).size, 25);
      await replica.close();
      await suite.gateway.appendMany(Array.from({ length: 5 }, (_, i) => ({ type: 'note', body: { i: 25 + i } })));
      await suite.gateway.seal();

      // The copy's last block (2) changed, as the bundle of the origin's 4 blocks.
      const lastChanged: TileFetch = async (p, o) => {
        const body = await honest(p, o);
        return p === tilePath({ kind: 'blocks', level: 0, index: 0, width: 4 }) ? retimed(body, 4, 2) : body;
      };
      // A head (not signed) of 2 blocks, and block 1 changed in the bundle of 2. The head is read
      // only beside a checkpoint without the header line: the latest one is served re-signed without it.
      const legacy = withResignedCheckpoint(honest, [], suite.name, suite.key);
      const lowHead: TileFetch = async (p, o) => {
        if (p === 'iot-ledger/head') return Buffer.from('{"height":2,"size":20}\n');
        const body = await legacy(p, o);
        return p === tilePath({ kind: 'blocks', level: 0, index: 0, width: 2 }) ? retimed(body, 2, 1) : body;
      };
      for (const fetch of [lowHead, lastChanged]) {
        const r = await Replicator.open(suite.repDir, { trustedKey: suite.did, fetch });
        try {
          await assert.rejects(r.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE') && /same signed checkpoint/.test(e.message));
        } finally {
          await r.close();
        }
      }
      assert.equal(fs.existsSync(path.join(suite.repDir, EVIDENCE_DIR)), false, 'no evidence against the gateway');
      const again = await Replicator.open(suite.repDir, { trustedKey: suite.did, fetch: honest });
      try {
        assert.equal((await again.catchUp()).size, 30);
      } finally {
        await again.close();
      }
    } finally {
      await honest.close();
    }
    const report = await auditLedger(suite.repDir, { trustedKey: suite.did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
  });
});

describe('replica: a legacy block re-timed when first copied', function () {
  this.timeout(30_000);
  const suite = legacySuite('replica.legacy-copied.test', 25, 10);

  it('a copy made from an origin that served re-timed legacy blocks follows the honest origin once the gateway signs a new block', async () => {
    const honest = httpTileFetch(suite.server.url);
    // The origin's 3 blocks with the last one re-timed; with block 1 re-timed and block 2 chained to it.
    const bundle3 = tilePath({ kind: 'blocks', level: 0, index: 0, width: 3 });
    const hostile = (h: number): TileFetch => async (p, o) => {
      const body = await honest(p, o);
      return p === bundle3 ? retimed(body, 3, h, 2) : body;
    };
    const dirs = [path.join(suite.tmp.dir, 'last'), path.join(suite.tmp.dir, 'rechained')];
    try {
      for (const [i, h] of [2, 1].entries()) {
        const r = await Replicator.open(dirs[i], { trustedKey: suite.did, fetch: hostile(h) });
        try {
          assert.equal((await r.catchUp()).size, 25);
        } finally {
          await r.close();
        }
      }
      await suite.gateway.appendMany(Array.from({ length: 5 }, (_, i) => ({ type: 'note', body: { i: 25 + i } })));
      await suite.gateway.seal();
      for (const dir of dirs) {
        const r = await Replicator.open(dir, { trustedKey: suite.did, fetch: honest });
        try {
          assert.equal((await r.catchUp()).size, 30);
          for (let h = 0; h < 4; h++) assert.deepEqual(await r.store.rawBlock(h), await suite.gateway.database.get(blockKey(h)), `block ${h} as the gateway stores it`);
        } finally {
          await r.close();
        }
        assert.equal(fs.existsSync(path.join(dir, EVIDENCE_DIR)), false, 'no evidence against the gateway');
        const report = await auditLedger(dir, { trustedKey: suite.did, workers: 0 });
        assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
      }
    } finally {
      await honest.close();
    }
  });
});

describe('replica: a gateway still sealing legacy blocks', function () {
  this.timeout(30_000);
  const suite = legacySuite('replica.legacy-still.test', 25, 10);

  it("the copy's legacy blocks are not replaced on the word of a new block whose header no signature covers", async () => {
    const honest = httpTileFetch(suite.server.url);
    try {
      await copyThrough(suite, honest, 25);
      // The gateway (an earlier version) seals block 3, its checkpoint without the header line too.
      await suite.gateway.appendMany(Array.from({ length: 5 }, (_, i) => ({ type: 'note', body: { i: 25 + i } })));
      await suite.gateway.seal();
      await suite.gateway.close();
      await asLegacyCheckpoints(suite.gwDir, [3], suite.name, suite.key);
      suite.gateway = await suite.open();
      suite.server.ledger = suite.gateway;
      // An origin serving block 2 re-timed and block 3 chained to it: nothing signs either header.
      const bundle4 = tilePath({ kind: 'blocks', level: 0, index: 0, width: 4 });
      const hostile: TileFetch = async (p, o) => {
        const body = await honest(p, o);
        return p === bundle4 ? retimed(body, 4, 2, 3) : body;
      };
      const mine = await suite.gateway.database.get(blockKey(2));
      const h = await Replicator.open(suite.repDir, { trustedKey: suite.did, fetch: hostile });
      try {
        await assert.rejects(h.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE'));
        assert.deepEqual(await h.store.rawBlock(2), mine, "the copy's block 2 as the gateway stores it");
      } finally {
        await h.close();
      }
    } finally {
      await honest.close();
    }
  });
});

describe('replica: a re-timed legacy chain that the new block does not extend', function () {
  this.timeout(60_000);
  const suite = legacySuite('replica.legacy-walk.test', 261, 1);

  it("is refused at the new block, without fetching the copy's older blocks again", async () => {
    const honest = httpTileFetch(suite.server.url);
    try {
      await copyThrough(suite, honest, 261);
      await suite.gateway.appendMany([{ type: 'note', body: { i: 261 } }]);
      await suite.gateway.seal();
      assert.equal(suite.gateway.height, 262);
      // Blocks 250..260 re-timed and chained (across both bundles); block 261, signed with its header line, chains to the gateway's 260.
      const [b0, b1] = [tilePath({ kind: 'blocks', level: 0, index: 0, width: 256 }), tilePath({ kind: 'blocks', level: 0, index: 1, width: 6 })];
      const raws = [...decodeBlockBundle(await honest(b0), 256), ...decodeBlockBundle(await honest(b1), 6)];
      let prev: Uint8Array | undefined;
      for (let h = 250; h <= 260; h++) {
        const block = decodeBlockValue(raws[h], h);
        const header = decodeCbor(block.header) as Record<string, CborValue>;
        const bytes = encodeCbor({ ...header, time: (header.time as number) + 1, prev: prev ?? header.prev });
        prev = sha256(bytes);
        raws[h] = blockValue({ header: bytes, hash: prev, checkpoint: block.checkpoint });
      }
      const requests: string[] = [];
      const hostile: TileFetch = async (p, o) => {
        requests.push(p);
        if (p === b0) return encodeBlockBundle(raws.slice(0, 256));
        if (p === b1) return encodeBlockBundle(raws.slice(256));
        return honest(p, o);
      };
      const h = await Replicator.open(suite.repDir, { trustedKey: suite.did, fetch: hostile });
      try {
        await assert.rejects(h.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE'));
      } finally {
        await h.close();
      }
      assert.ok(requests.includes(b1), requests.join(' '));
      assert.ok(!requests.includes(b0), `the bundle of blocks 0..255 was fetched: ${requests.join(' ')}`);
    } finally {
      await honest.close();
    }
  });
});

describe('replica: a checkpoint with the header line over a block whose own checkpoint predates it', function () {
  this.timeout(30_000);
  const suite = legacySuite('replica.legacy-line.test', 25, 10);

  it('naming another header for that block is an origin error, no evidence: the copy holds no signed header to show against it', async () => {
    const honest = httpTileFetch(suite.server.url);
    try {
      // Signed with the gateway key (no gateway signs such a line for a legacy block): the same tree, said to end at block 2 with another hash.
      const lined = withResignedCheckpoint(honest, [headerLine(2, sha256(Buffer.from('another header')))], suite.name, suite.key);
      // The copy holds the tree already (the check after an equal size) or copies it (after the copy).
      await copyThrough(suite, honest, 25);
      for (const dir of [suite.repDir, path.join(suite.tmp.dir, 'replica-new')]) {
        const r = await Replicator.open(dir, { trustedKey: suite.did, fetch: lined });
        try {
          await assert.rejects(r.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_ORIGIN') && /names block 2/.test(e.message));
        } finally {
          await r.close();
        }
        assert.equal(fs.existsSync(path.join(dir, EVIDENCE_DIR)), false, `${dir}: no evidence that does not verify`);
      }
    } finally {
      await honest.close();
    }
  });
});
