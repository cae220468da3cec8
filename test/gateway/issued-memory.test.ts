import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { Gateway } from '../../lib/gateway';
import { MAX_ISSUED_SIZE } from '../../lib/gateway/gateway';
import { tempDir } from '../support/ledger';

// verify() remembers each accepted message (envelope and payload JSON) for the Record node's
// fast path until it is recorded. A flow need not record every verified message, and with trust
// on first use anyone can send accepted ones of up to 64 KiB: what is remembered must stay
// small, whatever the messages weigh (a gateway often runs on a 1 GB board).

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

  it('2048 accepted messages of 60 KB, never recorded: what is kept stays within its size bound', async function () {
    this.timeout(60_000);
    const key = generateKey('Ed25519');
    const did = keyToDid(key);
    const pad = 'x'.repeat(45_000);
    const message = (counter: number) => signEnvelope({ counter, pad: `${pad}${counter}` }, key, { kid: did }) as string;
    for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 512 }, (_, i) => gw.verify(message(round * 512 + i + 1), { tofu: true })));
    const { remembered, rememberedSize } = gw.backlog;
    assert.ok(rememberedSize <= MAX_ISSUED_SIZE, `${rememberedSize} bytes kept for Record`);
    // Each message weighs over 100 KB (envelope and payload JSON): far fewer than the count bound are kept.
    assert.ok(remembered > 0 && remembered <= Math.floor(MAX_ISSUED_SIZE / 100_000), `${remembered} messages kept`);
    // A message verified now is still recorded (the fast way, as it is remembered).
    const small = signEnvelope({ counter: 5000, temperature: -20 }, key, { kid: did }) as string;
    const v = await gw.verify(small, { tofu: true });
    const receipt = await gw.recordMessage({ type: 'reading', device: did, envelope: small }, { proof: v.proof, counter: 5000 });
    assert.equal(receipt.index, gw.ledger.size - 1);
  });
});
