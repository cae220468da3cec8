import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeCbor, encodeCbor, type CborValue } from '../../lib/encoding/codec';
import { generateKey } from '../../lib/crypto';
import { Ledger, migrateLedger } from '../../lib/ledger';
import { decodeMeta, META_KEY } from '../../lib/ledger/layout';
import { META_PATH } from '../../lib/tiles/path';
import { writeStaticTiles } from '../../lib/tiles/static';
import { openRawDb } from '../support/raw-db';
import { tempDir } from '../support/ledger';

// A static tiles directory written while the ledger was in an older storage format holds that
// format's meta. After `iot-ledger migrate`, the next write puts the migrated meta there: a
// replica refuses to start from an older format's meta (ERR_LEDGER_FORMAT).

describe('tiles: static meta after a migration', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('rewrites the meta file when the ledger meta changed, and leaves it alone when it did not', async () => {
    const dir = path.join(tmp.dir, 'ledger');
    const out = path.join(tmp.dir, 'static');
    const gatewayKey = generateKey('Ed25519');
    const options = { name: 'static.meta', gatewayKey, blockRecords: 1000, blockSeconds: 3600 };
    let ledger = await Ledger.open(dir, options);
    await ledger.appendMany(Array.from({ length: 10 }, (_, i) => ({ type: 'note', body: { i } })));
    await ledger.seal();
    await ledger.close();

    // The ledger as storage format 3 kept it (its meta says v 3), published as static tiles then.
    const db = await openRawDb(dir);
    const meta = decodeCbor((await db.get(META_KEY)) as Uint8Array) as Record<string, CborValue>;
    const format3 = Buffer.from(encodeCbor({ ...meta, v: 3 }));
    await db.put(META_KEY, format3);
    await db.close();
    fs.mkdirSync(path.dirname(path.join(out, META_PATH)), { recursive: true });
    fs.writeFileSync(path.join(out, META_PATH), format3);
    assert.throws(() => decodeMeta(format3), /storage format 3/);

    assert.equal((await migrateLedger(dir)).from, 3);
    ledger = await Ledger.open(dir, options);
    try {
      await ledger.appendMany(Array.from({ length: 5 }, (_, i) => ({ type: 'note', body: { i } })));
      await ledger.seal();
      const first = await writeStaticTiles(ledger, out);
      assert.equal(first?.size, 15);
      const published = fs.readFileSync(path.join(out, META_PATH));
      assert.deepEqual(published, await ledger.database.get(META_KEY));
      assert.equal(decodeMeta(published).v, 4, 'a replica can start from the published meta');

      // Unchanged: not written again.
      fs.utimesSync(path.join(out, META_PATH), new Date(1_000_000), new Date(1_000_000));
      await ledger.append({ type: 'note', body: { i: 15 } });
      await ledger.seal();
      await writeStaticTiles(ledger, out, first ?? undefined);
      assert.equal(fs.statSync(path.join(out, META_PATH)).mtimeMs, 1_000_000, 'an unchanged meta is not written again');
    } finally {
      await ledger.close();
    }
  });
});
