import * as assert from 'node:assert/strict';
import { auditLedger } from '../lib/audit';
import { generateKey, keyToDid, type PrivateKey } from '../lib/crypto';
import { signEnvelope } from '../lib/envelope/envelope';
import { Gateway } from '../lib/gateway';
import { tempDir } from './support/ledger';

// Replay protection survives a restart: the last counter a device reached is rebuilt from the
// device messages on the ledger, whatever record type the flow stored them under, from what
// the device signed (not from a body the flow may have changed).

describe('gateway: replay protection after a restart', () => {
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway | undefined;
  const device: PrivateKey = generateKey('Ed25519');
  const did = keyToDid(device);
  const message = (counter: number): string => signEnvelope({ temperature: -21, counter }, device, { kid: did }) as string;
  const open = async (): Promise<Gateway> => (gw = await Gateway.open(tmp.dir, { name: 'replay', gatewayKey, blockSeconds: 0 }));
  const restart = async (): Promise<Gateway> => {
    await gw?.close();
    return open();
  };

  beforeEach(async () => {
    tmp = tempDir();
    await (await open()).enrol({ did, name: 'freezer' });
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    tmp.cleanup();
  });

  async function accept(g: Gateway, envelope: string, type: string, body?: unknown): Promise<void> {
    const v = await g.verify(envelope);
    await g.record({ type, device: did, body: (body ?? v.payload) as never, envelope });
  }

  for (const type of ['reading', 'telemetry']) {
    it(`rejects a message recorded as "${type}" when it comes again after a restart`, async () => {
      await accept(gw!, message(7), type);
      const g = await restart();
      await assert.rejects(g.verify(message(7)), { code: 'ERR_REPLAY' });
      await assert.rejects(g.verify(message(6)), { code: 'ERR_REPLAY' });
      await accept(g, message(8), type);
      await g.close();
      gw = undefined;
      assert.equal((await auditLedger(tmp.dir, { workers: 0 })).clean, true);
    });
  }

  it('takes the counter from the signed message, not from a body the flow changed', async () => {
    await accept(gw!, message(9), 'reading', { temperature: -21, unit: 'C' });
    const g = await restart();
    await assert.rejects(g.verify(message(9)), { code: 'ERR_REPLAY' });
  });

  it('is not moved by a rejected message kept as evidence', async () => {
    await accept(gw!, message(3), 'reading');
    await gw!.securityEvent(new Error('forged'), { device: did });
    await gw!.record({ type: 'security', device: did, body: { code: 'ERR_BAD_SIGNATURE' }, envelope: message(50) });
    const g = await restart();
    await g.verify(message(4)); // 50 was evidence, never accepted
  });
});
