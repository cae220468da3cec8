import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openRawDb } from '../support/raw-db';
import { auditLedger } from '../../lib/audit';
import { headerLine, openCheckpoint, signCheckpoint } from '../../lib/note/checkpoint';
import { sha256 } from '../../lib/crypto/hash';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { verifierKeyString } from '../../lib/note/note';
import { runCli } from '../support/cli';
import { httpTileFetch, Replicator, verifyEvidence, type Evidence } from '../../lib/replica';
import { appendNotes, tempDir } from '../support/ledger';
import { watchDurableWrites } from '../support/durable-writes';
import { startTileServer, type TileServer } from '../support/tile-server';
import { withResignedCheckpoint } from '../support/resigned-checkpoint';
import { decodeBlockBundle, decodeEntryBundle, encodeBlockBundle, encodeEntryBundle } from '../../lib/tiles/content';
import { blockValue, decodeBlockValue } from '../../lib/ledger/layout';
import type { TileFetch } from '../../lib/tiles/verify';

const NAME = 'replica.test';

/** Every key and value of a LevelDB directory, for comparing copies. */
async function dump(dir: string, skip: (k: Buffer) => boolean = () => false): Promise<Map<string, string>> {
  const db = await openRawDb(dir);
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) if (!skip(k)) out.set(k.toString('hex'), v.toString('hex'));
  await db.close();
  return out;
}

describe('replica: catch up over tiles, resume, rollback and fork', function () {
  this.timeout(60000);
  const tmp = tempDir('replica-');
  const gwDir = path.join(tmp.dir, 'gateway');
  const oldDir = path.join(tmp.dir, 'gateway-old');
  const olderDir = path.join(tmp.dir, 'gateway-old-2');
  const repDir = path.join(tmp.dir, 'replica');
  const key: PrivateKey = generateKey('Ed25519');
  const did = keyToDid(key);
  let gateway: Ledger;
  let server: TileServer;
  const open = (dir: string): Promise<Ledger> => Ledger.open(dir, { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
  const replicator = (fetch: TileFetch = httpTileFetch(server.url)): Promise<Replicator> => Replicator.open(repDir, { trustedKey: did, fetch });

  before(async () => {
    gateway = await open(gwDir);
    await appendNotes(gateway, 0, 1000);
    await gateway.close();
    fs.cpSync(gwDir, oldDir, { recursive: true });
    fs.cpSync(gwDir, olderDir, { recursive: true });
    gateway = await open(gwDir);
    await appendNotes(gateway, 1000, 537);
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    if (!gateway.closed) await gateway.close();
    tmp.cleanup();
  });

  it('copies the ledger: same keys and values up to the last block, audit CLEAN with the gateway key', async () => {
    const progress: number[] = [];
    const r = await Replicator.open(repDir, { trustedKey: did, fetch: httpTileFetch(server.url), onProgress: (p) => progress.push(p.size) });
    const result = await r.catchUp();
    await r.close();
    assert.equal(result.size, 1537);
    assert.equal(result.height, gateway.height);
    assert.equal(result.fetched, 1537);
    assert.ok(progress.length >= 1 && progress[progress.length - 1] === 1537);
    const report = await auditLedger(repDir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, 1537);
    await gateway.close();
    const [a, b] = await Promise.all([dump(gwDir), dump(repDir)]);
    assert.deepEqual(b, a);
    gateway = await open(gwDir);
    server.ledger = gateway;
  });

  it('resumes without fetching again what it holds', async () => {
    await appendNotes(gateway, 1537, 300);
    server.requests.length = 0;
    const r = await replicator();
    const result = await r.catchUp();
    await r.close();
    assert.equal(result.size, 1837);
    assert.equal(result.fetched, 300);
    const bundles = server.requests.filter((p) => p.startsWith('tile/entries/'));
    assert.deepEqual(bundles, ['tile/entries/006', 'tile/entries/007.p/45'], 'only the bundles past record 1537 (1537 = 6·256 + 1)');
    assert.deepEqual(
      server.requests.filter((p) => /^tile\/\d/.test(p)),
      [],
      'entries that rebuild the signed roots need no hash tiles',
    );
    const again = await replicator();
    assert.equal((await again.catchUp()).fetched, 0);
    await again.close();
  });

  it('refuses a key that is not the origin gateway\'s', async () => {
    const other = keyToDid(generateKey('Ed25519'));
    await assert.rejects(Replicator.open(repDir, { trustedKey: other, fetch: httpTileFetch(server.url) }), (e: unknown) =>
      isLedgerError(e, 'ERR_REPLICA_ORIGIN'),
    );
  });

  it('refuses tampered tiles and writes nothing', async () => {
    await appendNotes(gateway, 1837, 100);
    const honest = httpTileFetch(server.url);
    const lying = async (p: string): Promise<Uint8Array> => {
      const b = Buffer.from(await honest(p));
      if (p.startsWith('tile/entries/')) b[b.length - 3] ^= 1;
      return b;
    };
    const r = await replicator(lying);
    await assert.rejects(r.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE'));
    assert.equal(r.store.size, 1837);
    assert.equal((await r.catchUp().catch((e: unknown) => e)) instanceof Error, true);
    await r.close();
    // Well-formed records in another order: the rebuilt root differs, and the hash tiles
    // then name the entry (a bad tile, not a fork: no evidence, nothing written).
    const swapping = async (p: string): Promise<Uint8Array> => {
      const b = await honest(p);
      const m = /^tile\/entries\/\d+(?:\.p\/(\d+))?$/.exec(p);
      if (!m) return b;
      const entries = decodeEntryBundle(b, Number(m[1] ?? 256));
      const n = entries.length;
      return encodeEntryBundle([...entries.slice(0, n - 2), entries[n - 1], entries[n - 2]]);
    };
    server.requests.length = 0;
    const s = await replicator(swapping);
    await assert.rejects(s.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE') && e.details?.index === 1935);
    assert.equal(s.store.size, 1837);
    await s.close();
    assert.ok(server.requests.some((p) => p.startsWith('tile/0/007')), JSON.stringify(server.requests));
    assert.equal(fs.existsSync(path.join(repDir, 'replica-evidence')), false);
    const ok = await replicator();
    assert.equal((await ok.catchUp()).size, 1937);
    await ok.close();
  });

  it('a block served with a signature line more (anyone can add one) is a bad tile, not a fork', async () => {
    await appendNotes(gateway, 1937, 100);
    const honest = httpTileFetch(server.url);
    const padding = async (p: string): Promise<Uint8Array> => {
      const b = await honest(p);
      const m = /^iot-ledger\/blocks\/\d+(?:\.p\/(\d+))?$/.exec(p);
      if (!m) return b;
      const width = Number(m[1] ?? 256);
      const blocks = decodeBlockBundle(b, width).map((raw, i) => {
        const stored = decodeBlockValue(raw, i);
        return blockValue({ ...stored, checkpoint: `${stored.checkpoint}\u2014 mirror.example AAAAAAAA\n` });
      });
      return encodeBlockBundle(blocks);
    };
    const r = await replicator(padding);
    const err = await r.catchUp().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isLedgerError(err, 'ERR_REPLICA_BAD_TILE'), String(err));
    assert.equal(r.store.size, 1937);
    await r.close();
    assert.equal(fs.existsSync(path.join(repDir, 'replica-evidence')), false);
    const ok = await replicator();
    assert.equal((await ok.catchUp()).size, 2037);
    await ok.close();
  });

  /**
   * The origin's tiles with `head` served as its head, and its checkpoint as a version before
   * the header line signed it (the same tree, signed by the gateway key without that line), so
   * the replica must read the head to learn how many blocks there are.
   */
  function withLegacyCheckpointAndHead(head: string): TileFetch {
    const legacy = withResignedCheckpoint(httpTileFetch(server.url), [], NAME, key);
    return async (p, o) => (p === 'iot-ledger/head' ? Buffer.from(head) : legacy(p, o));
  }

  it('a head (unsigned) below the copy beside a larger checkpoint without a header line is an origin error, not a rollback', async () => {
    await appendNotes(gateway, 2037, 100);
    const err = await roundError(await replicator(withLegacyCheckpointAndHead('{"height":1,"size":100}\n')));
    assert.ok(isLedgerError(err, 'ERR_REPLICA_ORIGIN'), String(err));
    assert.equal(fs.existsSync(path.join(repDir, 'replica-evidence')), false);
  });

  it('the head is not read when the checkpoint signs the height of its block: a forged head naming more blocks and records changes nothing', async () => {
    // Anyone who can publish on a Tiles over MQTT topic can retain such a head; its tiles never come.
    const honest = httpTileFetch(server.url);
    const asked: string[] = [];
    const forgedHead: TileFetch = async (p, o) => {
      asked.push(p);
      return p === 'iot-ledger/head' ? Buffer.from(`{"height":${gateway.height + 300},"size":${gateway.size + 77000}}\n`) : honest(p, o);
    };
    const r = await replicator(forgedHead);
    assert.equal((await r.catchUp()).size, 2137);
    await r.close();
    assert.ok(asked.includes('checkpoint') && !asked.includes('iot-ledger/head'), asked.join(' '));
  });

  /** The origin's tiles with its checkpoint re-signed by the gateway key with another header line: `height` and `hash` (the same tree). */
  function withHeaderLine(height: number, hash: Uint8Array): TileFetch {
    return withResignedCheckpoint(httpTileFetch(server.url), [headerLine(height, hash)], NAME, key);
  }

  /** The evidence of `err`, a fork, checked to show two headers with the gateway key alone, then removed from `dir`. */
  function twoHeadersShown(err: unknown, dir: string): void {
    assert.ok(isLedgerError(err, 'ERR_REPLICA_FORK'), `${dir}: ${String(err)}`);
    const evidence = JSON.parse(fs.readFileSync(String((err as { details?: { file?: string } }).details?.file), 'utf8')) as Evidence;
    assert.equal(verifyEvidence(evidence, did), 'headers');
    fs.rmSync(path.join(dir, 'replica-evidence'), { recursive: true });
  }

  it('a checkpoint whose header line names another header for the block that ends its tree, or for a block below it, is a fork, shown as two headers; a height above it is an origin error', async () => {
    const last = (await gateway.latestBlock())!;
    const other = sha256(Buffer.from('another chain'));
    // The copy holds the tree already (the check after an equal size) or copies it (after the copy).
    for (const dir of [repDir, path.join(tmp.dir, 'replica-two-headers')]) {
      twoHeadersShown(await roundError(await Replicator.open(dir, { trustedKey: did, fetch: withHeaderLine(last.height, other) })), dir);
      // The copy's block below signs its own header for that height: two headers for one height too.
      twoHeadersShown(await roundError(await Replicator.open(dir, { trustedKey: did, fetch: withHeaderLine(last.height - 1, last.hash) })), dir);
      const high = await roundError(await Replicator.open(dir, { trustedKey: did, fetch: withHeaderLine(last.height + 1, last.hash) }));
      assert.ok(isLedgerError(high, 'ERR_REPLICA_ORIGIN') && /names block/.test(high.message), `${dir}: ${String(high)}`);
    }
    assert.equal(fs.existsSync(path.join(repDir, 'replica-evidence')), false);
    const r = await replicator();
    assert.equal((await r.catchUp()).size, 2137);
    await r.close();
  });

  it('a larger checkpoint whose header line names a block below the copy\'s last with another header is a fork, shown as two headers (a stolen key)', async () => {
    const last = (await gateway.latestBlock())!;
    const honest = httpTileFetch(server.url);
    // Signed with the gateway key: a tree of one record more, said to end at block 3 (whose own checkpoint names another header).
    const forged = signCheckpoint({ origin: NAME, size: gateway.size + 1, root: sha256(Buffer.from('another tree')), extensions: [headerLine(3, last.hash)] }, NAME, key);
    const fetch: TileFetch = async (p, o) => (p === 'checkpoint' ? Buffer.from(forged) : honest(p, o));
    twoHeadersShown(await roundError(await replicator(fetch)), repDir);
    const r = await replicator();
    assert.equal((await r.catchUp()).size, 2137);
    await r.close();
  });

  /** A round of the replica in `dir` against the origin with `head` served as its head beside a checkpoint without a header line: its error (the replica closed afterwards). */
  async function roundWithHead(dir: string, head: string): Promise<unknown> {
    return roundError(await Replicator.open(dir, { trustedKey: did, fetch: withLegacyCheckpointAndHead(head) }));
  }

  /** A catch-up round of `r`: its error, undefined when it caught up (r closed afterwards). */
  async function roundError(r: Replicator): Promise<unknown> {
    try {
      return await r.catchUp().then(
        () => undefined,
        (e: unknown) => e,
      );
    } finally {
      await r.close();
    }
  }

  /** A replica in `dir` catches up from the honest origin afterwards. */
  async function catchesUpHonestly(dir: string): Promise<void> {
    const ok = await Replicator.open(dir, { trustedKey: did, fetch: httpTileFetch(server.url) });
    assert.equal((await ok.catchUp()).size, 2137);
    await ok.close();
  }

  it('a head that is not a JSON object with a height is an origin error (ERR_REPLICA_ORIGIN), not an untyped one', async () => {
    // A new replica, which reads the head first thing.
    const dir = path.join(tmp.dir, 'replica-bad-head');
    for (const body of ['not json', 'null', '[]', '{"height":"3"}', '\u00ff']) {
      const err = await roundWithHead(dir, body);
      assert.ok(isLedgerError(err, 'ERR_REPLICA_ORIGIN'), `${JSON.stringify(body)}: ${String(err)}`);
    }
    await catchesUpHonestly(dir);
  });

  it('a head over the bounds of JSON from outside (64 levels, 1 KiB) is an origin error (ERR_REPLICA_ORIGIN) saying so', async () => {
    const dir = path.join(tmp.dir, 'replica-deep-head');
    const honest = httpTileFetch(server.url);
    // The honest head without its closing brace: '{"height":H,"size":S'.
    const open = Buffer.from(await honest('iot-ledger/head')).toString('utf8').trim().slice(0, -1);
    const cases: [string, RegExp][] = [
      // 100,000 '[' (JSON.parse says only "not JSON"): over 1 KiB, refused before any parsing.
      ['['.repeat(100_000), /the origin head is 100000 bytes, more than the limit of 1024/],
      // A head with the right height that JSON.parse takes, but for a field nested 65 deep or a padding past 1 KiB.
      [`${open},"pad":${'['.repeat(65)}${']'.repeat(65)}}`, /the origin head nests arrays or objects deeper than the limit of 64/],
      [`${open}}${' '.repeat(2000)}`, /the origin head is \d+ bytes, more than the limit of 1024/],
    ];
    for (const [body, message] of cases) {
      const err = await roundWithHead(dir, body);
      assert.ok(isLedgerError(err, 'ERR_REPLICA_ORIGIN'), `${body.slice(0, 40)}: ${String(err)}`);
      assert.match(err.message, message);
    }
    await catchesUpHonestly(dir);
  });

  /** One round of a replica against `origin` (closed afterwards, the gateway served again): its error. */
  async function roundAgainst(origin: Ledger): Promise<unknown> {
    server.ledger = origin;
    try {
      return await roundError(await replicator());
    } finally {
      await origin.close();
      server.ledger = gateway;
    }
  }

  /**
   * The two signed checkpoints of the evidence an error names, opened; the evidence is first checked
   * as a third party would, offline with the gateway's did:key alone, and found to show the
   * conflict, which a changed proof or an honest note in place of the origin's does not.
   */
  function evidenceOf(err: unknown): { kind: string; ours: ReturnType<typeof openCheckpoint>; theirs: ReturnType<typeof openCheckpoint> } {
    const evidence = JSON.parse(fs.readFileSync(String((err as { details?: { file?: string } }).details?.file), 'utf8')) as Evidence;
    assert.deepEqual([evidence.gateway, evidence.verifierKey], [did, verifierKeyString(NAME, key)]);
    /** The conflict the evidence shows, or 'none' (ERR_MALFORMED_PROOF). */
    const shown = (e: Evidence): string => {
      try {
        return verifyEvidence(e, did);
      } catch (error) {
        assert.ok(isLedgerError(error, 'ERR_MALFORMED_PROOF'), String(error));
        return 'none';
      }
    };
    assert.equal(shown(evidence), 'roots');
    assert.equal(shown({ ...evidence, theirs: evidence.ours }), 'none');
    if (evidence.proof) {
      const root1 = Buffer.from(evidence.proof.root1, 'base64');
      root1[0] ^= 1;
      // Two headers for one height may remain (a fork of one block's header as well).
      assert.notEqual(shown({ ...evidence, proof: { ...evidence.proof, root1: root1.toString('base64') } }), 'roots');
    }
    // The CLI's offline check of the file as the replica wrote it.
    const cli = runCli(['verify-evidence', String((err as { details?: { file?: string } }).details?.file), '--key', did, '--json']);
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), { conflict: 'roots', origin: NAME });
    const vkey = verifierKeyString(NAME, key);
    return { kind: evidence.kind, ours: openCheckpoint(evidence.ours, vkey), theirs: openCheckpoint(evidence.theirs, vkey) };
  }

  it('an older checkpoint that agrees with the copy (replayed, or a stale cache) is ERR_REPLICA_ORIGIN: no evidence, the next round goes on', async () => {
    const err = await roundAgainst(await open(oldDir));
    assert.ok(isLedgerError(err, 'ERR_REPLICA_ORIGIN'), String(err));
    assert.equal(fs.existsSync(path.join(repDir, 'replica-evidence')), false);
    const r = await replicator();
    assert.equal((await r.catchUp()).size, 2137);
    await r.close();
  });

  it('a rollback (an older copy plus new records, still smaller) is ERR_REPLICA_ROLLBACK with both signed checkpoints kept, durably', async () => {
    const rolled = await open(oldDir);
    await appendNotes(rolled, 5000, 200);
    // The follower stops at this error: its evidence must survive a power cut right after it
    // (written to a temporary file, fsynced, renamed into place).
    const { result: err, durable } = await watchDurableWrites(() => roundAgainst(rolled));
    assert.ok(isLedgerError(err, 'ERR_REPLICA_ROLLBACK'), String(err));
    const file = path.resolve(String((err as { details?: { file?: string } }).details?.file));
    assert.ok(durable.has(file), `the evidence file ${file} was not renamed into place from a file fsynced before, then its directory fsynced`);
    const { kind, ours, theirs } = evidenceOf(err);
    assert.equal(kind, 'rollback');
    assert.equal(ours.size, 2137);
    assert.equal(theirs.size, 1200);
  });

  it('a fork (an older copy plus new records, now longer) is ERR_REPLICA_FORK; the copy still audits CLEAN', async () => {
    const forked = await open(oldDir);
    await appendNotes(forked, 5000, 1500);
    const err = await roundAgainst(forked);
    assert.ok(isLedgerError(err, 'ERR_REPLICA_FORK'), String(err));
    const { ours, theirs } = evidenceOf(err);
    assert.equal(ours.size, 2137);
    assert.notDeepEqual(theirs, ours);
    const report = await auditLedger(repDir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true);
    assert.equal(report.size, 2137);
  });

  it('a rollback in fewer, larger blocks (a larger signed checkpoint, a lower head) is ERR_REPLICA_ROLLBACK', async () => {
    const rolled = await Ledger.open(olderDir, { name: NAME, gatewayKey: key, blockRecords: 1000, blockSeconds: 0 });
    await appendNotes(rolled, 7000, 1500);
    assert.ok(rolled.size > 2137 && rolled.height < 22, `${rolled.size} records in ${rolled.height} blocks`);
    const err = await roundAgainst(rolled);
    assert.ok(isLedgerError(err, 'ERR_REPLICA_ROLLBACK'), String(err));
    const { kind, ours, theirs } = evidenceOf(err);
    assert.equal(kind, 'rollback');
    assert.equal(ours.size, 2137);
    assert.notEqual(theirs.root.toString(), ours.root.toString());
  });

  it("a new block whose signed root conflicts with the tree of the origin's checkpoint is a fork whose evidence shows the conflict", async () => {
    const forkDir = path.join(tmp.dir, 'gateway-fork');
    await gateway.close();
    fs.cpSync(gwDir, forkDir, { recursive: true });
    gateway = await open(gwDir);
    server.ledger = gateway;
    await appendNotes(gateway, 9000, 300);
    // The same key signs other records after the copy's: its blocks beside the gateway's checkpoint and tiles.
    const forked = await open(forkDir);
    await appendNotes(forked, 9500, 300);
    const forkServer = await startTileServer(forked);
    const honest = httpTileFetch(server.url);
    const other = httpTileFetch(forkServer.url);
    try {
      const mixed: TileFetch = (p, o) => (p.startsWith('iot-ledger/blocks/') ? other(p, o) : honest(p, o));
      const err = await roundError(await replicator(mixed));
      assert.ok(isLedgerError(err, 'ERR_REPLICA_FORK'), String(err));
      const { ours, theirs } = evidenceOf(err);
      assert.equal(ours.size, gateway.size);
      assert.ok(theirs.size < ours.size, `${theirs.size} < ${ours.size}`);
    } finally {
      await honest.close();
      await other.close();
      await forkServer.close();
      await forked.close();
    }
  });
});
