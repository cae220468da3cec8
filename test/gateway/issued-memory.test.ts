import * as assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

// verify() remembers each accepted message (envelope and payload JSON) for the Record node's
// fast path until it is recorded. A flow need not record every verified message, and with trust
// on first use anyone can send accepted ones of up to 64 KiB: what is remembered must stay
// small, whatever the messages weigh (a gateway often runs on a 1 GB board).

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('gateway: accepted messages remembered for Record', () => {
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'issued', gatewayKey: generateKey('Ed25519'), blockSeconds: 0 });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('2048 accepted messages of 60 KB, never recorded, keep a few MB, not 200', async function () {
    this.timeout(60_000);
    const key = generateKey('Ed25519');
    const did = keyToDid(key);
    const pad = 'x'.repeat(45_000);
    const message = (counter: number) => signEnvelope({ counter, pad: `${pad}${counter}` }, key, { kid: did }) as string;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 512 }, (_, i) => gw.verify(message(round * 512 + i + 1), { tofu: true })));
    gc();
    const grown = (process.memoryUsage().heapUsed - before) / 1e6;
    assert.ok(grown < 60, `${grown.toFixed(0)} MB kept after 2048 accepted messages`);
    // A message verified now is still recorded (the fast way, as it is remembered).
    const small = signEnvelope({ counter: 5000, temperature: -20 }, key, { kid: did }) as string;
    const v = await gw.verify(small, { tofu: true });
    const receipt = await gw.recordMessage({ type: 'reading', device: did, envelope: small }, { proof: v.proof, counter: 5000 });
    assert.equal(receipt.index, gw.ledger.size - 1);
  });
});
