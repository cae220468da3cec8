import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger, MAX_BLOCK_BYTES, MAX_BLOCK_RECORDS, type RecordInput, type StoredRecord } from '../../lib/ledger';
import { encodeCbor } from '../../lib/encoding/codec';
import { ledgerOfOneBlock } from '../support/oversized-block';
import { DEFAULT_MAX_BLOCK_RECORDS, httpTileFetch, ReplicaFollower, Replicator, type ReplicatorOptions } from '../../lib/replica';
import { decodeEntryBundle, encodeEntryBundle, MAX_ENTRY_BYTES } from '../../lib/tiles/content';
import { answerTileRequest } from '../../lib/tiles/http';
import { tempDir } from '../support/ledger';
import { listenLocally } from '../support/local-server';
import { projectRoot } from '../support/paths';
import { startTileServer, type TileServer } from '../support/tile-server';
import { until } from '../support/until';

// A replica writes a block in one batch, so it holds all of the block's entries at once. A gateway
// key (stolen, or a broken gateway) can sign a block of any size: the replica refuses one past its
// limits, keeps the blocks before it, and blames the origin's block only for entries the checkpoint's
// tree holds.

const NAME = 'block-limit.test';

async function appendNotes(ledger: Ledger, count: number, chunk = 500): Promise<void> {
  for (let i = 0; i < count; i += chunk) await ledger.appendMany(Array.from({ length: Math.min(chunk, count - i) }, (_, j) => ({ type: 'note', body: { n: i + j } })));
  await ledger.seal();
}

/**
 * The CLI in a child process (this one serves the tiles); killed after a minute so a follower
 * that never stops fails the test instead of outliving it.
 */
function runCli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), ...args]);
    const bound = setTimeout(() => child.kill('SIGKILL'), 60000);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => {
      clearTimeout(bound);
      resolve({ status, stderr });
    });
  });
}

async function collectRange(ledger: Ledger, from: number, to: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of ledger.range(from, to)) out.push(r);
  return out;
}

/** The error a promise rejects with (the test fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => assert.fail(`resolved with ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
}

/**
 * A hostile tile server for `ledger`: entry bundles past `answered` are never answered (held
 * open, as a server that sends slowly would), and it notes which ones the client gave up.
 */
async function holdingServer(ledger: Ledger, answered: number): Promise<{ url: string; requested: number[]; held: { index: number; closed: boolean }[]; close(): Promise<void> }> {
  const requested: number[] = [];
  const held: { index: number; closed: boolean }[] = [];
  const server = await listenLocally((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/log\//, '');
    const m = /^tile\/entries\/(\d{3})(?:\.p\/\d+)?$/.exec(p);
    if (m) {
      const index = Number(m[1]);
      requested.push(index);
      if (index > answered) {
        const h = { index, closed: false };
        held.push(h);
        res.on('close', () => (h.closed = true));
        return;
      }
    }
    void answerTileRequest(ledger, p, req, res);
  });
  return { url: `http://127.0.0.1:${server.port}/log/`, requested, held, close: () => server.close() };
}

describe('replica: a block larger than the limits is refused', function () {
  this.timeout(120000);
  const tmp = tempDir('replica-block-limit-');
  const key: PrivateKey = generateKey('Ed25519');
  const did = keyToDid(key);
  let server: TileServer;
  let gateway: Ledger;
  /** The bytes of block 3's records. */
  let bigBytes = 0;
  let n = 0;
  const open = (dir: string, blockRecords: number): Promise<Ledger> => Ledger.open(dir, { name: NAME, gatewayKey: key, blockRecords, blockSeconds: 0 });
  /** Appends `count` notes in blocks of `blockRecords`, for each [blockRecords, count] in turn. */
  const writeBlocks = async (dir: string, runs: readonly (readonly [number, number])[]): Promise<void> => {
    for (const [blockRecords, count] of runs) {
      const ledger = await open(dir, blockRecords);
      await appendNotes(ledger, count);
      await ledger.close();
    }
  };
  const replicator = (opts: Partial<ReplicatorOptions> = {}, dir = path.join(tmp.dir, `replica-${n++}`)): Promise<Replicator> =>
    Replicator.open(dir, { trustedKey: did, fetch: httpTileFetch(server.url), ...opts });

  // Blocks 0-2 of 100 records, block 3 of 600 (records 300-899), block 4 of 100.
  before(async () => {
    const dir = path.join(tmp.dir, 'gateway');
    await writeBlocks(dir, [
      [100, 300],
      [1000, 600],
      [100, 100],
    ]);
    gateway = await open(dir, 100);
    assert.deepEqual([gateway.size, gateway.height], [1000, 5]);
    for await (const r of gateway.range(300, 900)) bigBytes += r.bytes.length;
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    await gateway.close();
    tmp.cleanup();
  });

  it('more records than maxBlockRecords: refused before its entries are fetched, the blocks before it kept', async () => {
    const r = await replicator({ maxBlockRecords: 599 });
    for (let round = 0; round < 2; round++) {
      server.requests.length = 0;
      const err = await failure(r.catchUp());
      assert.ok(isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(err));
      assert.deepEqual(err.details, { height: 3, records: 600, max: 599 });
      assert.deepEqual([r.store.size, r.store.height], [300, 3]);
      const bundles = server.requests.filter((p) => p.startsWith('tile/entries/'));
      assert.deepEqual(bundles, round === 0 ? ['tile/entries/000', 'tile/entries/001'] : [], 'no entry bundle past record 300 (bundle 001 ends at 511)');
    }
    await r.close();
    assert.equal(fs.existsSync(path.join(r.store.dir, 'replica-evidence')), false);
    const report = await auditLedger(r.store.dir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, 300);
    // The limit, not the block, stopped it: a replica that allows 600 records copies it all.
    const more = await replicator({ maxBlockRecords: 600 }, r.store.dir);
    assert.equal((await more.catchUp()).size, 1000);
    await more.close();
  });

  it('more records than maxBlockRecords: no block bundle fetched past the one that shows the block', async () => {
    // Blocks 0-2 of 1 record, block 3 of 100, then 600 blocks of 1 record: block bundles 000
    // (heights 0-255), 001 and 002.p/92.
    const dir = path.join(tmp.dir, 'gateway-many-blocks');
    await writeBlocks(dir, [
      [1, 3],
      [100, 100],
      [1, 600],
    ]);
    const many = await open(dir, 1);
    assert.deepEqual([many.size, many.height], [703, 604]);
    server.ledger = many;
    server.requests.length = 0;
    try {
      const r = await replicator({ maxBlockRecords: 99 });
      const err = await failure(r.catchUp());
      assert.deepEqual([r.store.size, r.store.height], [3, 3]);
      await r.close();
      assert.ok(isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(err));
      assert.deepEqual(err.details, { height: 3, records: 100, max: 99 });
      assert.deepEqual(
        server.requests.filter((p) => p.startsWith('iot-ledger/blocks/')),
        ['iot-ledger/blocks/000'],
      );
    } finally {
      server.ledger = gateway;
      await many.close();
    }
  });

  it('more bytes of records than maxBlockBytes: refused as its entries arrive, the blocks before it kept', async () => {
    const r = await replicator({ maxBlockBytes: bigBytes - 1 });
    const err = await failure(r.catchUp());
    assert.ok(isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(err));
    assert.deepEqual(err.details, { height: 3, max: bigBytes - 1 });
    assert.deepEqual([r.store.size, r.store.height], [300, 3]);
    await r.close();
    assert.equal(fs.existsSync(path.join(r.store.dir, 'replica-evidence')), false);
    const more = await replicator({ maxBlockBytes: bigBytes }, r.store.dir);
    assert.equal((await more.catchUp()).size, 1000);
    await more.close();
  });

  it('more bytes of records than maxBlockBytes: the entry bundles fetched ahead are cancelled, none past them asked for', async () => {
    // One block of 5120 records: entry bundles 000-019. The limit falls in bundle 002; the
    // server never answers a bundle past it, so what the replica asked for ahead stays in flight.
    const big = await open(path.join(tmp.dir, 'gateway-one-block'), 5120);
    await appendNotes(big, 5120);
    assert.deepEqual([big.size, big.height], [5120, 1]);
    const bytesOf = async (from: number, to: number): Promise<number> => (await collectRange(big, from, to)).reduce((n, r) => n + r.bytes.length, 0);
    const max = (await bytesOf(0, 512)) + (await bytesOf(512, 640));
    const hostile = await holdingServer(big, 2);
    const fetch = httpTileFetch(hostile.url, { timeoutMs: 600_000 }); // no timeout ends a held request in this test
    try {
      const r = await replicator({ maxBlockBytes: max, fetch });
      const err = await failure(r.catchUp());
      assert.equal(r.store.size, 0);
      await r.close();
      assert.ok(isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(err));
      assert.deepEqual(err.details, { height: 0, max });
      // The 8 bundles fetched at once: 002 (the block passes the limit in it) and the 7 ahead of it.
      assert.ok(hostile.requested.includes(2));
      assert.ok(Math.max(...hostile.requested) <= 2 + 7, `bundles asked for: ${hostile.requested.join(', ')}`);
      await until('every bundle held for the replica given up', () => hostile.held.every((h) => h.closed), { timeoutMs: 20_000, pollMs: 10 });
      assert.ok(Math.max(...hostile.requested) <= 2 + 7, `bundles asked for: ${hostile.requested.join(', ')}`);
    } finally {
      await fetch.close();
      await hostile.close();
      await big.close();
    }
  });

  it('a library caller that loops catchUp: the block refused for its bytes is refused again at once, its entries not fetched again', async () => {
    const r = await replicator({ maxBlockBytes: bigBytes - 1 });
    try {
      server.requests.length = 0;
      const first = await failure(r.catchUp());
      assert.ok(isLedgerError(first, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(first));
      assert.ok(server.requests.includes('tile/entries/002'), 'the first round downloaded the block\'s entries');
      for (let round = 1; round < 3; round++) {
        server.requests.length = 0;
        const again = await failure(r.catchUp());
        assert.ok(isLedgerError(again, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(again));
        assert.equal(again.message, first.message);
        assert.deepEqual(again.details, { height: 3, max: bigBytes - 1 });
        assert.deepEqual(
          server.requests.filter((p) => p.startsWith('tile/entries/')),
          [],
          `round ${round}: no entry bundle fetched (the checkpoint, head and block bundle are: ${server.requests.join(', ')})`,
        );
        assert.deepEqual([r.store.size, r.store.height], [300, 3]);
      }
    } finally {
      await r.close();
    }
  });

  it('a follower stops at a block too large (signed, it will not change) instead of downloading it every round; started again with a larger limit, it copies it', async () => {
    const dir = path.join(tmp.dir, `follower-${n++}`);
    const follower = new ReplicaFollower({ url: server.url, dir, trustedKey: did, intervalSeconds: 3600, maxBlockBytes: bigBytes - 1 });
    try {
      server.requests.length = 0;
      const err = await failure(follower.catchUp());
      assert.ok(isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(err));
      assert.ok(server.requests.some((p) => p === 'tile/entries/002'), 'the block\'s entries were downloaded once');
      const view = follower.view();
      assert.deepEqual([view.state, view.error?.code, view.size, view.height], ['stopped-block-too-large', 'ERR_REPLICA_BLOCK_TOO_LARGE', 300, 3]);
      server.requests.length = 0;
      const again = await failure(follower.catchUp());
      assert.ok(isLedgerError(again, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(again));
      assert.deepEqual(server.requests, [], 'nothing fetched again');
      assert.equal(follower.view().state, 'stopped-block-too-large');
    } finally {
      await follower.close();
    }
    const raised = new ReplicaFollower({ url: server.url, dir, trustedKey: did, intervalSeconds: 3600, maxBlockBytes: bigBytes });
    try {
      assert.equal((await raised.catchUp()).size, 1000);
      assert.equal(raised.view().state, 'following');
    } finally {
      await raised.close();
    }
  });

  it('entries a server made longer are a bad tile, not a block too large', async () => {
    const honest = httpTileFetch(server.url);
    const padding = async (p: string): Promise<Uint8Array> => {
      const b = await honest(p);
      const m = /^tile\/entries\/\d+(?:\.p\/(\d+))?$/.exec(p);
      if (!m) return b;
      return encodeEntryBundle(decodeEntryBundle(b, Number(m[1] ?? 256)).map((e) => Buffer.concat([e, Buffer.alloc(Math.ceil(bigBytes / 100))])));
    };
    // Block 0 (100 records) is now past the limit.
    const r = await replicator({ maxBlockBytes: bigBytes - 1, fetch: padding });
    const err = await failure(r.catchUp());
    assert.ok(isLedgerError(err, 'ERR_REPLICA_BAD_TILE'), String(err));
    assert.equal(r.store.size, 0);
    await r.close();
  });

  it('limits that are not positive integers are refused before anything is fetched', async () => {
    for (const opts of [{ maxBlockRecords: 0 }, { maxBlockBytes: -1 }, { maxBlockRecords: 1.5 }, { maxBlockBytes: Number.NaN }]) {
      server.requests.length = 0;
      const dir = path.join(tmp.dir, `invalid-${n++}`);
      const err = await failure(replicator(opts, dir));
      assert.ok(isLedgerError(err, 'ERR_INVALID_ARGUMENT'), `${JSON.stringify(opts)}: ${String(err)}`);
      assert.deepEqual(server.requests, []);
      assert.equal(fs.existsSync(dir), false);
    }
  });

  it(`by default, a block of more than ${DEFAULT_MAX_BLOCK_RECORDS} records is refused`, async () => {
    // A ledger seals at MAX_BLOCK_RECORDS at most (blockRecords): only the gateway key, outside
    // the Ledger, signs a larger block.
    const big = await ledgerOfOneBlock(path.join(tmp.dir, 'gateway-big'), NAME, key, DEFAULT_MAX_BLOCK_RECORDS + 1);
    assert.deepEqual([big.size, big.height], [DEFAULT_MAX_BLOCK_RECORDS + 1, 1]);
    server.ledger = big;
    server.requests.length = 0;
    try {
      const r = await replicator();
      const err = await failure(r.catchUp());
      await r.close();
      assert.ok(isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE'), String(err));
      assert.deepEqual(err.details, { height: 0, records: DEFAULT_MAX_BLOCK_RECORDS + 1, max: DEFAULT_MAX_BLOCK_RECORDS });
      assert.deepEqual(server.requests.filter((p) => p.startsWith('tile/entries/')), []);
      // `replicate --follow` does not retry it (it is signed and will not change): exit 2.
      const follow = await runCli(['replicate', server.url, path.join(tmp.dir, `cli-${n++}`), '--key', did, '--follow', '--interval', '0.2']);
      assert.equal(follow.status, 2, follow.stderr);
      assert.match(follow.stderr, /ERR_REPLICA_BLOCK_TOO_LARGE/);
      assert.doesNotMatch(follow.stderr, /retrying/);
    } finally {
      server.ledger = gateway;
      await big.close();
    }
  });

  it('an honest ledger at the largest Block size, with records as large as a tile carries, is copied with the default limits', async () => {
    // The ledger seals a block before its records would pass the replica's default byte bound.
    const honest = await open(path.join(tmp.dir, 'gateway-largest'), MAX_BLOCK_RECORDS);
    const T = 1765000000000;
    const fixed = encodeCbor({ v: 1, type: 'note', time: T, body: '' }).length - 1 + 3;
    const note = (): RecordInput => ({ type: 'note', time: T, body: 'x'.repeat(MAX_ENTRY_BYTES - fixed) });
    const count = Math.floor(MAX_BLOCK_BYTES / MAX_ENTRY_BYTES) + 10;
    for (let i = 0; i < count; i += 64) await honest.appendMany(Array.from({ length: Math.min(64, count - i) }, note));
    await honest.seal();
    const [first] = await collectRange(honest, 0, 1);
    assert.equal(first?.bytes.length, MAX_ENTRY_BYTES);
    server.ledger = honest;
    try {
      const r = await replicator();
      assert.equal((await r.catchUp()).size, count);
      await r.close();
      const report = await auditLedger(r.store.dir, { trustedKey: did, workers: 0 });
      assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
      // The first block took as many records as fit MAX_BLOCK_BYTES, the next one the rest.
      assert.equal(honest.height, 2);
      assert.equal((await honest.block(0)).header.size, Math.floor(MAX_BLOCK_BYTES / MAX_ENTRY_BYTES));
    } finally {
      server.ledger = gateway;
      await honest.close();
    }
  });
});
