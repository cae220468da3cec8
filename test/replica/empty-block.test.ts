import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { sha256 } from '../../lib/crypto/hash';
import { encodeCbor } from '../../lib/encoding/codec';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { blockKey, blockValue, decodeBlockValue, META_KEY } from '../../lib/ledger/layout';
import { decodeHeader } from '../../lib/ledger/blocks';
import { headerLine } from '../../lib/note/checkpoint';
import { resigned } from '../support/resigned-checkpoint';
import { ReplicaStore } from '../../lib/replica/store';
import { tempDir } from '../support/ledger';
import { openRawDb } from '../support/raw-db';

const NAME = 'empty-block.test';

describe('replica: a block without records from the origin', () => {
  const tmp = tempDir('replica-empty-');
  after(() => tmp.cleanup());

  it('an empty block its gateway key signed after the last one is refused (ERR_REPLICA_ORIGIN), nothing of it kept', async () => {
    const key = generateKey('Ed25519');
    const gwDir = path.join(tmp.dir, 'gateway');
    const ledger = await Ledger.open(gwDir, { name: NAME, gatewayKey: key, blockRecords: 5 });
    for (let i = 0; i < 5; i++) await ledger.append({ type: 'note', body: i });
    await ledger.seal();
    await ledger.close();
    const db = await openRawDb(gwDir);
    const meta = (await db.get(META_KEY)) as Buffer;
    const raw0 = (await db.get(blockKey(0))) as Buffer;
    const entries: Buffer[] = [];
    for await (const [k, v] of db.iterator({ gt: Buffer.from('r'), lt: Buffer.from('s') })) if (k.length === 9) entries.push(v.subarray(32));
    await db.close();
    assert.equal(entries.length, 5);

    // What a hostile gateway could sign: block 1 at the same tree size as block 0.
    const block0 = decodeBlockValue(raw0, 0);
    const h0 = decodeHeader(block0.header, 0);
    const header = encodeCbor({ v: 1, height: 1, prev: block0.hash, first: h0.size, size: h0.size, root: h0.root, time: h0.time + 1 });
    const hash = sha256(header);
    const checkpoint = resigned(block0.checkpoint, [headerLine(1, hash)], NAME, key);
    const raw1 = blockValue({ header, hash, checkpoint });

    const store = await ReplicaStore.open(path.join(tmp.dir, 'replica'), meta);
    try {
      await store.append([{ raw: raw0, info: store.openBlock(raw0, 0) }], entries);
      assert.equal(store.height, 1);
      const err = await store.append([{ raw: raw1, info: store.openBlock(raw1, 1) }], []).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(isLedgerError(err, 'ERR_REPLICA_ORIGIN') && /holds no records/.test(err.message), String(err));
      assert.equal(store.height, 1);
      assert.equal(store.size, 5);
    } finally {
      await store.close();
    }
  });
});
