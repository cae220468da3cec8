import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { isLedgerError } from '../../lib/errors';
import { Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

// With trust on first use, a device's messages that arrived before it was known all wait for
// their signature check as "not enrolled". Revoking the device meanwhile must stick: a message
// checked after the revocation is refused, and it must not enrol the device again (a second
// device.tofu record after the device.revoke would, also for every later restart).

describe('gateway: trust on first use and a revocation while messages wait', () => {
  const gatewayKey = generateKey('Ed25519');
  const tofu = { tofu: true };
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  const message = (key: PrivateKey, counter: number): string => signEnvelope({ temperature: -20, counter }, key, { kid: keyToDid(key) }) as string;

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'tofu-race', gatewayKey, blockSeconds: 0 });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  /** Four enrolled devices, for a backlog: their lanes are served before devices not enrolled. */
  const enrolBusy = async (): Promise<PrivateKey[]> => {
    const keys = [0, 1, 2, 3].map(() => generateKey('Ed25519'));
    for (const key of keys) await gw.enrol({ did: keyToDid(key) });
    return keys;
  };
  const backlog = (keys: PrivateKey[]): Promise<unknown> => Promise.all(keys.flatMap((key) => Array.from({ length: 1000 }, (_, i) => gw.verify(message(key, i + 1)).catch(() => undefined))));
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'accepted',
      (err: unknown) => (isLedgerError(err) ? err.code : String(err)),
    );

  it('a message checked after the revocation is refused and does not enrol the device again, also after a restart', async () => {
    const busy = await enrolBusy();
    const intruder = generateKey('Ed25519');
    const did = keyToDid(intruder);
    const first = gw.verify(message(intruder, 1), tofu);
    // The first message goes to the signature worker alone; the second, still from a device
    // not enrolled, waits behind the enrolled devices' backlog.
    await new Promise((resolve) => setImmediate(resolve));
    const busyDone = backlog(busy);
    const second = outcome(gw.verify(message(intruder, 2), tofu));
    assert.equal((await first).device.did, did);
    await gw.revoke({ did });
    assert.equal(await second, 'ERR_REVOKED_DEVICE');
    await busyDone;
    assert.equal(gw.devices.active(did), false);
    await gw.close();
    gw = await Gateway.open(tmp.dir, { name: 'tofu-race', gatewayKey, blockSeconds: 0 });
    assert.equal(gw.devices.active(did), false);
    await assert.rejects(gw.verify(message(intruder, 3), tofu), (err: unknown) => isLedgerError(err, 'ERR_REVOKED_DEVICE'));
  });

  it('an enrolled device revoked while its messages wait: those checked after the revocation are refused', async () => {
    const busy = await enrolBusy();
    const device = generateKey('ES256');
    const did = keyToDid(device);
    await gw.enrol({ did });
    const busyDone = backlog(busy);
    // Its own lane is served in turn with the four others: its last message comes long after the revocation.
    const waiting = Array.from({ length: 1000 }, (_, i) => outcome(gw.verify(message(device, i + 1))));
    await gw.revoke({ did });
    const outcomes = await Promise.all(waiting);
    assert.equal(outcomes[outcomes.length - 1], 'ERR_REVOKED_DEVICE');
    // Refused from some message on, never accepted again after that.
    const firstRefused = outcomes.indexOf('ERR_REVOKED_DEVICE');
    assert.ok(outcomes.slice(firstRefused).every((o) => o === 'ERR_REVOKED_DEVICE'), JSON.stringify(outcomes.slice(firstRefused)));
    await busyDone;
  });
});
