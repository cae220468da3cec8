import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, validateTerms } from '../../lib/contracts';
import { Ledger } from '../../lib/ledger';
import {
  cliAudit,
  coldRoomFlow,
  coldRoomTerms,
  enrol,
  LedgerRuntime,
  Mailbox,
  Sensor,
  sleep,
  TOPIC,
  waitFlowSubscribed,
} from '../support/ledger-runtime';
import { until } from '../support/until';

// kill -9 under load: a publisher sends signed readings without pause and notes when each
// reading's Record acknowledgement (ack/<device>/<counter>, sent after the durable append)
// arrives. Node-RED is killed with SIGKILL at a random moment, twice, and restarted on the
// same user directory. Every reading acknowledged before a kill must be in the ledger with
// the body and envelope that were sent, and the ledger must audit clean.

const LEDGER = 'crash-e2e';
const CRASHES = 2;

interface Sent {
  sensor: Sensor;
  counter: number;
  payload: { temperature: number; counter: number; ts: number };
  jws: string;
  /** When its ack arrived, with the index it names. */
  ack?: { at: number; index: number };
}

/** Publishes readings of every sensor in rounds until stopped; matches acks as they come. */
class Publisher {
  readonly sent = new Map<string, Sent>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private round = 0;

  constructor(
    private readonly box: Mailbox,
    private readonly sensors: Sensor[],
  ) {
    box.client.on('message', (topic, payload) => {
      if (!topic.startsWith('ack/')) return;
      const [, name, counter] = topic.split('/');
      const s = this.sent.get(`${name}/${counter}`);
      if (s && !s.ack) s.ack = { at: Date.now(), index: (JSON.parse(payload.toString()) as { index: number }).index };
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        this.round++;
        for (const sensor of this.sensors) {
          // In and out of the contract's range, so excursions start and end under load.
          const temperature = Math.floor(this.round / 15) % 2 === 0 ? -22.5 : -18.25;
          const payload = sensor.next(temperature);
          const jws = sensor.sign(payload);
          this.sent.set(`${sensor.name}/${payload.counter}`, { sensor, counter: payload.counter, payload, jws });
          await this.box.publish(TOPIC.reading(sensor.name), jws, 0);
        }
        await sleep(4);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  acked(): Sent[] {
    return [...this.sent.values()].filter((s) => s.ack);
  }
}

describe('e2e: SIGKILL of Node-RED under load loses no acknowledged reading', function () {
  this.timeout(150_000);

  const sensors = [new Sensor('crash-a', generateKey('Ed25519')), new Sensor('crash-b', generateKey('ES256'))];
  const parties = [generateKey('Ed25519'), generateKey('Ed25519')];
  const terms = coldRoomTerms([sensors[0].did], parties.map(keyToDid));
  let rt: LedgerRuntime;
  let box: Mailbox;
  let pub: Publisher;
  /** Acknowledged before each kill (a snapshot taken at the moment SIGKILL was sent). */
  const ackedBeforeKill: Sent[][] = [];

  before(async () => {
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'crash' });
    box = await Mailbox.connect(rt.broker.url, [TOPIC.ack, TOPIC.events, TOPIC.rejected, TOPIC.enrolled]);
    await rt.nr.deployFlows(coldRoomFlow({ brokerPort: rt.broker.port, ledgerName: LEDGER, terms, blockRecords: 200, blockSeconds: 0.5 }));
    await waitFlowSubscribed(box);
    for (const s of sensors) await enrol(box, s);
    const t = validateTerms(terms);
    for (const k of parties) await box.publish(TOPIC.sign, signContract(t, k) as string);
    await box.waitFor('contract/cold-room-1/party.signed', (m) => (JSON.parse(m.text) as { active: boolean }).active);
    pub = new Publisher(box, sensors);
  });

  after(async () => {
    await pub?.stop();
    await box?.close();
    await rt?.dispose();
  });

  for (let crash = 1; crash <= CRASHES; crash++) {
    it(`crash ${crash}: kill -9 while readings are acknowledged, then restart on the same user dir`, async () => {
      const before = pub.acked().length;
      pub.start();
      // Under load for a while: at least 150 new acks and 1.5 s, then a random extra moment.
      const t0 = Date.now();
      await until(
        () => `150 acks (${pub.acked().length - before} so far)\n${rt.output().slice(-3000)}`,
        () => pub.acked().length >= before + 150 && Date.now() - t0 >= 1500,
        { timeoutMs: 40_000, pollMs: 50 },
      );
      await sleep(Math.floor(Math.random() * 700));
      const snapshot = pub.acked();
      const killing = rt.kill();
      ackedBeforeKill.push(snapshot);
      await killing;
      await pub.stop();
      const rate = Math.round(((snapshot.length - before) * 1000) / (Date.now() - t0));
      console.log(`      ${snapshot.length - before} readings acknowledged before kill ${crash} (~${rate}/s), ${pub.sent.size} sent in all`);

      await rt.start();
      await waitFlowSubscribed(box);
      // The flow runs on: the counters carry on where the ledger left them.
      const resumedFrom = pub.acked().length;
      pub.start();
      await until(() => `20 acks after the restart\n${rt.output().slice(-3000)}`, () => pub.acked().length >= resumedFrom + 20, { timeoutMs: t0 + 90_000 - Date.now(), pollMs: 50 });
      await pub.stop();
    });
  }

  it('stops cleanly and audits clean', async () => {
    await sleep(300); // acks of the last readings still on their way
    await rt.stop();
    const { code, report, stderr } = await cliAudit(rt.ledgerDir);
    assert.equal(code, 0, `audit exit ${code}: ${JSON.stringify(report.findings.slice(0, 5), null, 1)}\n${stderr}`);
    assert.equal(report.clean, true);
    assert.ok(report.size > pub.acked().length, `${report.size} records`);
  });

  it('holds every reading acknowledged before each kill, with the body and envelope sent', async () => {
    const ledger = await Ledger.open(rt.ledgerDir, { readOnly: true });
    try {
      for (const s of sensors) {
        const recorded = new Map<number, { index: number; body: unknown; envelope: unknown }>();
        for await (const r of ledger.byDevice(s.did)) {
          if (r.record.type !== 'reading') continue;
          const counter = (r.record.body as { counter: number }).counter;
          assert.ok(!recorded.has(counter), `${s.name} counter ${counter} recorded twice (#${recorded.get(counter)?.index}, #${r.index})`);
          recorded.set(counter, { index: r.index, body: r.record.body, envelope: r.record.envelope });
        }
        for (const [i, acked] of ackedBeforeKill.entries()) {
          const mine = acked.filter((a) => a.sensor === s);
          assert.ok(mine.length > 0, `${s.name} had acks before kill ${i + 1}`);
          for (const a of mine) {
            const r = recorded.get(a.counter);
            assert.ok(r, `${s.name} #${a.counter} was acknowledged (index ${a.ack!.index}) before kill ${i + 1} but is not in the ledger`);
            assert.equal(r.index, a.ack!.index, `${s.name} #${a.counter} index`);
            assert.deepEqual(r.body, a.payload, `${s.name} #${a.counter} body`);
            assert.equal(r.envelope, a.jws, `${s.name} #${a.counter} envelope`);
          }
        }
      }
      // Everything acknowledged after the restarts is there too.
      const all = pub.acked();
      const stored = new Set<number>();
      for await (const r of ledger.byType('reading')) stored.add(r.index);
      const missing = all.filter((a) => !stored.has(a.ack!.index));
      assert.deepEqual(missing.map((a) => `${a.sensor.name}/${a.counter}`), []);
    } finally {
      await ledger.close();
    }
  });
});
