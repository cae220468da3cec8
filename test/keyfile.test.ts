import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadOrCreateKeyFile, readPrivateKeyFile, writeKeyFile } from '../lib/crypto/keyfile';
import { bytesEqual } from '../lib/encoding/bytes';
import { generateKey } from '../lib/crypto/keys';
import { tempDir } from './support/ledger';

describe('key files: created once, whatever was left or raced', () => {
  const t = tempDir('keyfile-');
  after(() => t.cleanup());

  it('a half-written temporary file of an earlier run (same pid, as in a container) does not stop the key being created', () => {
    const file = path.join(t.dir, 'stale', 'gateway.jwk');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(`${file}.${process.pid}.tmp`, '{"kty":"OKP","crv":"Ed25', { mode: 0o600 });
    const key = loadOrCreateKeyFile(file, () => generateKey('Ed25519'));
    assert.ok(bytesEqual(readPrivateKeyFile(file).secretKey, key.secretKey));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('a key another process created meanwhile is the one used, not replaced (each process would sign with a different key)', () => {
    const file = path.join(t.dir, 'raced', 'gateway.jwk');
    const theirs = generateKey('Ed25519');
    // The other process writes its key between this one's look and its write.
    const ours = loadOrCreateKeyFile(file, () => {
      writeKeyFile(file, theirs);
      return generateKey('Ed25519');
    });
    assert.ok(bytesEqual(readPrivateKeyFile(file).secretKey, theirs.secretKey), 'the first key on disk stays');
    assert.ok(bytesEqual(ours.secretKey, theirs.secretKey), 'and is the key returned');
    assert.deepEqual(
      fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
  });
});
