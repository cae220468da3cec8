import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as mqtt from 'mqtt';
import { toBase64Url, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { PROBE, startColdRoomExample, waitRecording } from '../support/example-runtime';
import { LedgerRuntime, Mailbox, Sensor } from '../support/ledger-runtime';

// A flood from one publisher on the gateway's topics, against the shipped cold-room example in
// a real Node-RED with a real broker: envelopes with random signatures, half of them naming an
// enrolled device (so each costs a signature check), half an unknown one. The targets of
// issue 10: Node-RED answers the editor within 5 s of the flood's end, its RSS grows by less
// than 150 MB, the ledger by less than 1 % of the rejected messages, and an honest device's
// reading published during the flood is recorded.

const FLOOD_MS = Number(process.env.FLOOD_MS ?? 20_000);
const VARIANTS = 2000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** JWS with random signatures: `kid` an enrolled device (victim) or a stranger. */
function forgeries(victim: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const kid = i % 2 === 0 ? victim : keyToDid(generateKey('Ed25519'));
    const h = toBase64Url(utf8(JSON.stringify({ alg: 'EdDSA', kid })));
    const p = toBase64Url(utf8(JSON.stringify({ temperature: -30, counter: 1_000_000 + i, ts: Date.now() })));
    out.push(`${h}.${p}.${toBase64Url(randomBytes(64))}`);
  }
  return out;
}

export interface FloodResult {
  published: number;
  ratePerSecond: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  /** RSS 5 s after the flood's end: what the flood left behind. */
  rssAfterMb: number;
  /** ms from the flood's end until GET /settings answered. */
  editorAfterMs: number;
  honestRecordedAfterMs: number;
}

describe('e2e: a flood of forged messages from one publisher', function () {
  this.timeout(FLOOD_MS + 150_000);
  const honest = new Sensor('sensor-1', generateKey('Ed25519'));
  const victim = new Sensor('sensor-2', generateKey('Ed25519'));
  let rt: LedgerRuntime;
  let box: Mailbox;
  let attacker: mqtt.MqttClient;
  let sizeBefore = 0;
  let result: FloodResult;

  before(async () => {
    ({ rt, box } = await startColdRoomExample('flood', [honest, victim], { rejected: false }));
    await waitRecording(box, honest);
    attacker = await mqtt.connectAsync(rt.broker.url, { reconnectPeriod: 0, clean: true });
  });
  after(async () => {
    await attacker?.endAsync(true).catch(() => undefined);
    await box?.close();
    await rt?.dispose();
  });

  it(`floods for ${FLOOD_MS / 1000} s at the publisher's top rate; Node-RED answers, stays small and records the honest reading`, async () => {
    const payloads = forgeries(victim.did, VARIANTS);
    const pid = rt.nr.pid as number;
    const rssBeforeMb = rssMb(pid);
    let rssPeakMb = rssBeforeMb;
    const timeline: number[] = [];
    const sampler = setInterval(() => {
      if (!rt.nr.running) return;
      const now = rssMb(pid);
      rssPeakMb = Math.max(rssPeakMb, now);
      if (process.env.FLOOD_TRACE) timeline.push(Math.round(now));
    }, 200);
    sizeBefore = await ledgerSize(rt);

    let published = 0;
    let honestSent: { counter: number; at: number } | undefined;
    const t0 = Date.now();
    try {
      while (Date.now() - t0 < FLOOD_MS) {
        // 200 at a time, then wait until the client has written them (QoS 0: no acks).
        let last: Promise<unknown> = Promise.resolve();
        for (let i = 0; i < 200; i++) {
          const topic = `coldroom/${published % 2 === 0 ? victim.name : `x${published % 50}`}/reading`;
          last = attacker.publishAsync(topic, payloads[published % VARIANTS], { qos: 0 });
          published++;
        }
        await last;
        if (!honestSent && Date.now() - t0 > FLOOD_MS / 4) {
          const payload = honest.next(-22);
          honestSent = { counter: payload.counter, at: Date.now() };
          void box.publish(`coldroom/${honest.name}/reading`, honest.sign(payload));
        }
      }
      const floodEnd = Date.now();
      await rt.nr.getSettings();
      const editorAfterMs = Date.now() - floodEnd;
      console.log(`      ${published} published in ${floodEnd - t0} ms; editor answered after ${editorAfterMs} ms; RSS ${Math.round(rssBeforeMb)} -> ${Math.round(rssPeakMb)} MB`);
      const recordedP = box.waitFor(
        PROBE.recorded,
        (m) => (JSON.parse(m.text) as { device: string; counter: number }).device === honest.name && (JSON.parse(m.text) as { counter: number }).counter === honestSent!.counter,
        60_000,
      );
      await new Promise((r) => setTimeout(r, Math.max(0, floodEnd + 5000 - Date.now())));
      const rssAfterMb = rssMb(pid);
      const recorded = await recordedP;
      result = {
        published,
        ratePerSecond: Math.round((published * 1000) / (floodEnd - t0)),
        rssBeforeMb: Math.round(rssBeforeMb),
        rssPeakMb: Math.round(rssPeakMb),
        rssAfterMb: Math.round(rssAfterMb),
        editorAfterMs,
        honestRecordedAfterMs: recorded.at - honestSent!.at,
      };
    } finally {
      clearInterval(sampler);
    }
    console.log(`      flood: ${JSON.stringify(result)}`);
    if (process.env.FLOOD_TRACE) console.log(`      RSS every 200 ms: ${timeline.join(' ')}`);
    assert.ok(result.editorAfterMs < 5000, `the editor answered ${result.editorAfterMs} ms after the flood`);
    // What the flood leaves: RSS 5 s after its end (during it, V8's heap swings with the load; the
    // peak is printed above and in bench/RESULTS.md).
    assert.ok(result.rssAfterMb - result.rssBeforeMb < 150, `RSS ${result.rssBeforeMb} -> ${result.rssAfterMb} MB 5 s after the flood (peak ${result.rssPeakMb} MB)`);
  });

  it('wrote security records that count the rejections, far fewer than the messages', async () => {
    await rt.stop(); // SIGINT: the gateway writes its pending aggregates and closes the ledger
    const ledger = await Ledger.open(rt.ledgerDir, { readOnly: true });
    try {
      const growth = ledger.size - sizeBefore;
      let counted = 0;
      const codes = new Map<string, number>();
      for await (const r of ledger.range(sizeBefore)) {
        if (r.record.type !== 'security') continue;
        const b = r.record.body as { code: string; count: number; first: number; last: number; sample: { detail: string } };
        if (b.code === 'ERR_INTERNAL') console.log(`      ${JSON.stringify(b)}`);
        assert.ok(Number.isSafeInteger(b.count) && b.count >= 1 && b.first <= b.last, JSON.stringify(b));
        counted += b.count;
        codes.set(b.code, (codes.get(b.code) ?? 0) + b.count);
      }
      console.log(`      ledger: +${growth} records for ${result.published} forged messages; counts ${JSON.stringify(Object.fromEntries(codes))}`);
      assert.ok(growth < result.published / 100, `ledger grew by ${growth} records for ${result.published} rejected messages`);
      // Every forged message that reached Verify is counted (QoS 0: the broker may drop some on the way).
      assert.ok(counted <= result.published && counted > result.published * 0.5, `${counted} rejections counted of ${result.published}`);
      for (const c of ['ERR_UNKNOWN_DEVICE']) assert.ok(codes.has(c), `no ${c} among ${[...codes.keys()].join(', ')}`);
    } finally {
      await ledger.close();
    }
  });
});

async function ledgerSize(rt: LedgerRuntime): Promise<number> {
  const r = await fetch(`${rt.nr.url}/iot-ledger/sidebar`);
  const body = (await r.json()) as { ledgers: { size: number }[] };
  return body.ledgers[0].size;
}

