import * as assert from 'node:assert/strict';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { verifierKeyString } from '../../lib/note/note';
import { cosignedMessage, cosignerKeyId, cosignLine, logVerifier, witnessVerifierKey } from '../../lib/witness/cosignature';
import { sign } from '../../lib/crypto/signature';
import { addCosignatures, quorumPolicy, verifyCosignedCheckpoint } from '../../lib/witness/quorum';
import { parseWitnessEndpoints } from '../../lib/witness/client';

describe('quorum K of N over a cosigned checkpoint', () => {
  const gw = generateKey('Ed25519');
  const origin = 'gw.example/q';
  const ws = [1, 2, 3].map((i) => ({ name: `w${i}.example`, key: generateKey('Ed25519') }));
  const vkeys = ws.map((w) => witnessVerifierKey(w.name, w.key));
  const note = signCheckpoint({ origin, size: 4, root: new Uint8Array(32).fill(9), extensions: [] }, origin, gw);
  const text = note.slice(0, note.lastIndexOf('\n\n') + 1);
  const log = logVerifier(verifierKeyString(origin, gw), origin);
  const cosigned = (n: number) => addCosignatures(note, ws.slice(0, n).map((w, i) => cosignLine(text, w, 100 + i)));
  const code = (c: string) => (e: unknown) => isLedgerError(e) && e.code === c;

  it('counts valid cosignatures by the configured witnesses', () => {
    const ok = verifyCosignedCheckpoint(cosigned(2), log, quorumPolicy(vkeys, 2));
    assert.deepEqual(ok.cosigners, [{ name: 'w1.example', timestamp: 100 }, { name: 'w2.example', timestamp: 101 }]);
    assert.equal(ok.checkpoint.size, 4);
    verifyCosignedCheckpoint(cosigned(1), log, quorumPolicy(vkeys, 1));
    verifyCosignedCheckpoint(note, log, quorumPolicy(vkeys, 0));
  });

  it('refuses fewer than K with ERR_WITNESS_QUORUM', () => {
    assert.throws(() => verifyCosignedCheckpoint(cosigned(1), log, quorumPolicy(vkeys, 2)), code('ERR_WITNESS_QUORUM'));
    assert.throws(() => verifyCosignedCheckpoint(note, log, quorumPolicy(vkeys, 1)), code('ERR_WITNESS_QUORUM'));
  });

  it('does not count cosignatures by unknown witnesses, nor the same witness twice', () => {
    const stranger = { name: 'w1.example', key: generateKey('Ed25519') };
    const n = addCosignatures(note, [cosignLine(text, stranger, 5), cosignLine(text, ws[0], 6), cosignLine(text, ws[0], 7)]);
    assert.equal(verifyCosignedCheckpoint(n, log, quorumPolicy(vkeys, 1)).cosigners.length, 1);
    assert.throws(() => verifyCosignedCheckpoint(n, log, quorumPolicy(vkeys, 2)), code('ERR_WITNESS_QUORUM'));
  });

  it('refuses a cosignature over another checkpoint and a note the log did not sign', () => {
    const otherText = text.replace('\n4\n', '\n5\n');
    const wrong = addCosignatures(note, [cosignLine(otherText, ws[0], 1)]);
    assert.throws(() => verifyCosignedCheckpoint(wrong, log, quorumPolicy(vkeys, 1)), code('ERR_BAD_SIGNATURE'));
    const onlyWitness = `${text}\n${cosignLine(text, ws[0], 1)}`;
    assert.throws(() => verifyCosignedCheckpoint(onlyWitness, log, quorumPolicy(vkeys, 1)), code('ERR_BAD_SIGNATURE'));
  });

  it('with notAfter, a witness whose cosignature is dated later (or past any safe time) is not counted, and the others still make the quorum', () => {
    const late = cosignLine(text, ws[2], 10 ** 12);
    // A timestamp no cosignLine writes (past 2^53), signed all the same: a valid cosignature/v1.
    const blob = Buffer.concat([Buffer.from(cosignerKeyId(ws[2].name, ws[2].key)), Buffer.alloc(8), sign(ws[2].key, cosignedMessage(text, 2n ** 60n))]);
    blob.writeBigUInt64BE(2n ** 60n, 4);
    const farOff = `\u2014 ${ws[2].name} ${blob.toString('base64')}\n`;
    for (const line of [late, farOff]) {
      // The hostile witness's line first: it is the one of the three a verifier meets first.
      const n = addCosignatures(`${note}${line}`, [cosignLine(text, ws[0], 100), cosignLine(text, ws[1], 101)]);
      const ok = verifyCosignedCheckpoint(n, log, quorumPolicy(vkeys, 2), { notAfter: 1000 });
      assert.deepEqual(ok.cosigners, [{ name: 'w1.example', timestamp: 100 }, { name: 'w2.example', timestamp: 101 }]);
      assert.throws(
        () => verifyCosignedCheckpoint(n, log, quorumPolicy(vkeys, 3), { notAfter: 1000 }),
        (e: unknown) => isLedgerError(e, 'ERR_WITNESS_QUORUM') && e.details?.cosigned === 2,
      );
    }
    // Without notAfter the late one counts; the one past any safe time never does.
    assert.equal(verifyCosignedCheckpoint(addCosignatures(note, [late]), log, quorumPolicy(vkeys, 1)).cosigners[0].timestamp, 10 ** 12);
    assert.throws(() => verifyCosignedCheckpoint(addCosignatures(note, [farOff]), log, quorumPolicy(vkeys, 1)), code('ERR_WITNESS_QUORUM'));
  });

  it('a witness whose cosignature is dated past 2^63 - 1 (which C2SP forbids it to write, signed all the same) is not counted, and the others still make the quorum', () => {
    const t = 2n ** 64n - 1n;
    const message = Buffer.concat([Buffer.from(`cosignature/v1\ntime ${t.toString()}\n`), Buffer.from(text)]);
    const blob = Buffer.concat([Buffer.from(cosignerKeyId(ws[2].name, ws[2].key)), Buffer.alloc(8), sign(ws[2].key, message)]);
    blob.writeBigUInt64BE(t, 4);
    const n = addCosignatures(`${note}\u2014 ${ws[2].name} ${blob.toString('base64')}\n`, [cosignLine(text, ws[0], 100), cosignLine(text, ws[1], 101)]);
    assert.deepEqual(verifyCosignedCheckpoint(n, log, quorumPolicy(vkeys, 2)).cosigners.map((c) => c.name), ['w1.example', 'w2.example']);
    assert.throws(() => verifyCosignedCheckpoint(n, log, quorumPolicy(vkeys, 3)), (e: unknown) => isLedgerError(e, 'ERR_WITNESS_QUORUM') && e.details?.cosigned === 2);
    // Another witness's key, or other bytes, under its name is a bad signature as before.
    blob[20] ^= 1;
    assert.throws(() => verifyCosignedCheckpoint(`${note}\u2014 ${ws[2].name} ${blob.toString('base64')}\n`, log, quorumPolicy(vkeys, 1)), code('ERR_BAD_SIGNATURE'));
  });

  it('checks the policy', () => {
    assert.throws(() => quorumPolicy(vkeys, 4), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => quorumPolicy([vkeys[0], vkeys[0]], 1), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => quorumPolicy(['junk'], 1), code('ERR_MALFORMED_KEY'));
  });

  it('refuses one witness key under two names (its cosignature, renamed, would count twice)', () => {
    const alias = witnessVerifierKey('alias.example', ws[0].key);
    // The cosigned message does not hold the name: w1's line, given the alias name and key ID, verifies as the alias's.
    const n = addCosignatures(note, [cosignLine(text, ws[0], 100), cosignLine(text, { name: 'alias.example', key: ws[0].key }, 100)]);
    assert.throws(() => verifyCosignedCheckpoint(n, log, quorumPolicy([vkeys[0], alias], 2)), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => parseWitnessEndpoints(`${vkeys[0]} http://a.example\n${alias} http://b.example`), code('ERR_INVALID_ARGUMENT'));
  });

  it('merges cosignature lines without repeats and leaves the note text as it was', () => {
    const line = cosignLine(text, ws[0], 1);
    const once = addCosignatures(note, [line]);
    assert.equal(addCosignatures(once, [line]), once);
    assert.ok(once.startsWith(note));
  });
});
