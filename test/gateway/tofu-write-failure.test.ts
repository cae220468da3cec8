import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { LedgerError } from '../../lib/errors';
import { Gateway } from '../../lib/gateway';
import type { Ledger } from '../../lib/ledger';
import { TOFU } from '../../lib/registry/devices';
import { tempDir } from '../support/ledger';
import { signatureChecks } from '../support/signature-checks';

// The first messages of a new device wait together for its device.tofu record. When that write
// fails they all fail with the write's error (ERR_LEDGER_IO: the ledger could not write, the
// same code the Record node reports), and the device must be left as if they never came: not
// enrolled, its admission given back (a failed write spends none, or whoever can make writes
// fail could use up trust on first use), and no freshness remembered for it, so that a later
// message, the same one resent included, can enrol it, and failed enrolments hold no memory.

const code = (err: unknown): string => String((err as { code?: unknown }).code);
const message = (key: PrivateKey, counter: number): string => signEnvelope({ temperature: 4, counter }, key, { kid: keyToDid(key) }) as string;

describe('gateway: a device.tofu record that cannot be written', function () {
  this.timeout(30000);
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  const checks = signatureChecks();
  beforeEach(async () => {
    tmp = tempDir();
    checks.reset();
    // One admission, none more for an hour of a clock that does not move.
    gw = await Gateway.open(tmp.dir, { name: 'tofu-write', gatewayKey, blockSeconds: 0 }, { now: () => 0, tofu: { burst: 1, refillMs: 3_600_000 } });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  /** Holds device.tofu writes until fail() answers them with ERR_LEDGER_IO; other records are written. */
  function holdTofuWrites(ledger: Ledger): { held: () => number; fail: () => void; restore: () => void } {
    const appendThen = ledger.appendThen.bind(ledger);
    const waiting: ((err: Error) => void)[] = [];
    ledger.appendThen = (input, done) => {
      if (input.type !== TOFU) return appendThen(input, done);
      waiting.push(done);
    };
    return {
      held: () => waiting.length,
      fail: () => {
        for (const done of waiting.splice(0)) done(new LedgerError('ERR_LEDGER_IO', 'write to ledger failed (test)'));
      },
      restore: () => {
        ledger.appendThen = appendThen;
      },
    };
  }

  it('its messages all fail with ERR_LEDGER_IO; the device is not enrolled, keeps no freshness, spends no admission, and enrols with its next message (the first resent)', async () => {
    const writes = holdTofuWrites(gw.ledger);
    const key = generateKey('Ed25519');
    const did = keyToDid(key);
    const outcomes = [1, 2, 3].map((counter) => gw.verify(message(key, counter), { tofu: true }).then(() => 'accepted', code));
    // All three signatures checked: the first message writes the record, the two others wait for it.
    await checks.done(3);
    assert.equal(writes.held(), 1, 'one device.tofu record for the three');
    writes.fail();
    assert.deepEqual(await Promise.all(outcomes), ['ERR_LEDGER_IO', 'ERR_LEDGER_IO', 'ERR_LEDGER_IO']);
    assert.equal(gw.devices.get(did), undefined, 'not enrolled');
    assert.equal(gw.devices.lastAccepted(did), undefined, 'no freshness kept for a device that is not enrolled');

    // Writes work again: the first message, resent, enrols it with the admission the failure gave back.
    writes.restore();
    const again = await gw.verify(message(key, 1), { tofu: true });
    assert.equal(again.tofu, true);
    assert.equal(gw.devices.active(did), true);
    let records = 0;
    for await (const r of gw.ledger.byType(TOFU)) if (r.record.device === did) records++;
    assert.equal(records, 1);
    // That admission was the only one: spent once, by the record written.
    await assert.rejects(gw.verify(message(generateKey('Ed25519'), 1), { tofu: true }), (err: unknown) => code(err) === 'ERR_TOFU_LIMIT');
  });

  it('fresh keys whose records cannot be written leave no trace behind: each fails with ERR_LEDGER_IO, none with ERR_TOFU_LIMIT', async () => {
    const writes = holdTofuWrites(gw.ledger);
    const keys = Array.from({ length: 5 }, () => generateKey('Ed25519'));
    for (const [i, key] of keys.entries()) {
      const outcome = gw.verify(message(key, 1), { tofu: true }).then(() => 'accepted', code);
      await checks.done(i + 1);
      writes.fail();
      assert.equal(await outcome, 'ERR_LEDGER_IO');
    }
    assert.deepEqual(
      keys.map((k) => gw.devices.lastAccepted(keyToDid(k))),
      keys.map(() => undefined),
    );
    assert.equal(gw.devices.size, 0);
  });
});
