import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Anchorer, checkAnchorKey, readAnchorKeyFile } from '../../lib/anchor';
import { isLedgerError } from '../../lib/errors';
import { tempDir } from '../support/ledger';

describe('anchor: the account key and the settings', () => {
  const t = tempDir('anchor-key-');
  after(() => t.cleanup());
  const key = `0x${'4c'.repeat(32)}`;

  it('reads a 0600 key file and refuses one that others can read, without printing the key', () => {
    const file = path.join(t.dir, 'anchor.key');
    fs.writeFileSync(file, `${key.slice(2)}\n`, { mode: 0o600 });
    assert.equal(readAnchorKeyFile(file), key);
    fs.chmodSync(file, 0o644);
    assert.throws(
      () => readAnchorKeyFile(file),
      (e: unknown) => isLedgerError(e, 'ERR_ANCHOR_CONFIG') && /chmod 600/.test(e.message) && !e.message.includes('4c4c'),
    );
    assert.throws(() => checkAnchorKey('0x1234'), (e: unknown) => isLedgerError(e, 'ERR_ANCHOR_CONFIG') && !e.message.includes('1234'));
  });

  it('refuses 64 hex digits that are no secp256k1 private key (0, the group order or above) with ERR_ANCHOR_CONFIG, without printing them', () => {
    const order = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
    for (const bad of ['00'.repeat(32), order, `0x${order.toUpperCase()}`, 'ff'.repeat(32)]) {
      const host = {} as ConstructorParameters<typeof Anchorer>[0];
      const settings = { rpcUrl: 'http://127.0.0.1:1', chainId: 1, contract: `0x${'ab'.repeat(20)}`, privateKey: bad };
      const refused = (e: unknown): boolean => isLedgerError(e, 'ERR_ANCHOR_CONFIG') && !e.message.toLowerCase().includes(bad.slice(-16).toLowerCase());
      assert.throws(() => checkAnchorKey(bad), refused, bad);
      assert.throws(() => new Anchorer(host, settings), refused, bad);
    }
    // The largest key there is: the order less one.
    assert.equal(checkAnchorKey(`${order.slice(0, -1)}0`), `0x${order.slice(0, -1)}0`);
  });

  it('refuses bad settings with ERR_ANCHOR_CONFIG before touching the chain', () => {
    const host = {} as ConstructorParameters<typeof Anchorer>[0];
    const good = { rpcUrl: 'http://127.0.0.1:1', chainId: 1, contract: `0x${'ab'.repeat(20)}`, privateKey: key };
    // The provider speaks JSON-RPC over HTTP only: a WebSocket URL could never be reached.
    for (const bad of [{ rpcUrl: 'ftp://x' }, { rpcUrl: 'ws://127.0.0.1:8546' }, { rpcUrl: 'wss://rpc.example.org' }, { chainId: 0 }, { contract: '0x12' }, { privateKey: 'nope' }, { everyMinutes: 0, everyBlocks: 0 }, { confirmations: 0 }]) {
      assert.throws(() => new Anchorer(host, { ...good, ...bad }), (e: unknown) => isLedgerError(e, 'ERR_ANCHOR_CONFIG'), JSON.stringify(bad));
    }
  });
});
