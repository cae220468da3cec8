import * as assert from 'node:assert/strict';
import { openRawDb } from '../support/raw-db';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, validateTerms } from '../../lib/contracts';
import { Ledger, type StoredRecord } from '../../lib/ledger';
import { recordKey } from '../../lib/ledger/layout';
import {
  cliAudit,
  coldRoomFlow,
  coldRoomTerms,
  forge,
  LedgerRuntime,
  Mailbox,
  rejectionOn,
  Sensor,
  sleep,
  TOPIC,
  type Received,
  waitFlowSubscribed,
} from '../support/ledger-runtime';

// The cold-room example as a user runs it: the packed pack installed in a real Node-RED,
// a real MQTT broker, signed readings from two sensors, a contract two parties sign over
// MQTT, a forged and a replayed reading, an excursion that becomes a violation; then the
// ledger audits clean from the command line, and a single changed byte is found.

const LEDGER = 'coldroom-e2e';
const json = <T = Record<string, unknown>>(m: Received): T => JSON.parse(m.text) as T;

describe('e2e: the cold-room flow in a real Node-RED and MQTT broker', function () {
  this.timeout(120_000);

  const freezerA = new Sensor('freezer-a', generateKey('Ed25519'));
  const freezerB = new Sensor('freezer-b', generateKey('ES256'));
  const operator = generateKey('Ed25519');
  const customer = generateKey('ES256');
  const terms = coldRoomTerms([freezerA.did], [keyToDid(operator), keyToDid(customer)]);

  let rt: LedgerRuntime;
  let box: Mailbox;
  const acked = new Map<string, { index: number; block: number }>();

  /** Publishes a signed reading and waits for its Record acknowledgement. */
  async function reading(sensor: Sensor, temperature: number): Promise<{ jws: string; index: number; counter: number }> {
    const payload = sensor.next(temperature);
    const jws = sensor.sign(payload);
    await box.publish(TOPIC.reading(sensor.name), jws);
    const ack = json<{ index: number; block: number }>(await box.waitFor(`ack/${sensor.name}/${payload.counter}`));
    acked.set(`${sensor.name}/${payload.counter}`, ack);
    return { jws, index: ack.index, counter: payload.counter };
  }

  const rejection = (topic: string, code: string, after: number): Promise<Received> => rejectionOn(box, topic, code, after);

  before(async () => {
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'coldroom' });
    box = await Mailbox.connect(rt.broker.url, [TOPIC.ack, TOPIC.events, TOPIC.rejected, TOPIC.enrolled]);
    await rt.nr.deployFlows(coldRoomFlow({ brokerPort: rt.broker.port, ledgerName: LEDGER, terms, blockSeconds: 1 }));
    await waitFlowSubscribed(box);
  });

  after(async () => {
    await box?.close();
    await rt?.dispose();
  });

  it('enrols the sensors through the Enrol node (admin/enrol over MQTT)', async () => {
    for (const s of [freezerA, freezerB]) {
      await box.publish(TOPIC.enrol, JSON.stringify({ did: s.did, name: s.name, meta: { room: 'cold-room-1' } }));
      const done = json<{ action: string; did: string; name: string; revoked: boolean }>(
        await box.waitFor(TOPIC.enrolled, (m) => json(m).did === s.did),
      );
      assert.deepEqual(done, { action: 'enrol', did: s.did, name: s.name, revoked: false });
    }
  });

  it('activates the contract once both parties’ signatures arrive over MQTT', async () => {
    const t = validateTerms(terms);
    await box.publish(TOPIC.sign, signContract(t, operator) as string);
    const first = json<{ type: string; active: boolean; missingParties: string[] }>(
      await box.waitFor('contract/cold-room-1/party.signed', (m) => json(m).active === false),
    );
    assert.deepEqual(first.missingParties, [t.parties[1]]);
    await box.publish(TOPIC.sign, signContract(t, customer) as string);
    const second = json<{ active: boolean; missingParties: string[] }>(
      await box.waitFor('contract/cold-room-1/party.signed', (m) => json(m).active === true),
    );
    assert.deepEqual(second.missingParties, []);
  });

  it('records signed readings of both sensors and acknowledges each with its ledger index', async () => {
    const indexes: number[] = [];
    for (let i = 0; i < 3; i++) {
      indexes.push((await reading(freezerA, -22 - i / 10)).index);
      indexes.push((await reading(freezerB, -24 + i / 10)).index);
    }
    for (let i = 1; i < indexes.length; i++) assert.ok(indexes[i] > indexes[i - 1], `indexes grow: ${indexes.join(',')}`);
  });

  it('rejects a forged reading (payload changed after signing) with ERR_BAD_SIGNATURE', async () => {
    const since = Date.now();
    const payload = freezerA.next(-19.5);
    const forged = forge(freezerA.sign(payload), (p) => (p.temperature = -25));
    await box.publish(TOPIC.reading(freezerA.name), forged);
    const rejected = json<{ code: string; source: string; message: string }>(
      await rejection(TOPIC.reading(freezerA.name), 'ERR_BAD_SIGNATURE', since),
    );
    assert.equal(rejected.source, 'iot-ledger-verify');
    // The next genuine reading still goes through: the forgery did not move the counter.
    await reading(freezerA, -22);
    assert.equal(box.on(`ack/${freezerA.name}/${payload.counter}`).length, 0, 'the forged reading was not recorded');
  });

  it('rejects a replayed reading with ERR_REPLAY and records it once', async () => {
    const genuine = await reading(freezerB, -23.5);
    const since = Date.now();
    await box.publish(TOPIC.reading(freezerB.name), genuine.jws);
    const rejected = json<{ code: string; source: string }>(await rejection(TOPIC.reading(freezerB.name), 'ERR_REPLAY', since));
    assert.equal(rejected.source, 'iot-ledger-verify');
    await reading(freezerB, -23.6); // later messages still flow, so the replay's ack would have been seen
    assert.equal(box.on(`ack/${freezerB.name}/${genuine.counter}`).length, 1, 'the replay was not recorded again');
  });

  it('turns an excursion above -20 °C for more than 2 s into a violation event', async () => {
    const start = Date.now();
    while (Date.now() - start < 3200) {
      await reading(freezerA, -18.5);
      await sleep(300);
    }
    const started = json<{ type: string; value: number }>(await box.waitFor('contract/cold-room-1/excursion.started', (m) => m.at >= start));
    assert.equal(started.value, -18.5);
    const violation = json<{ type: string; time: number }>(await box.waitFor('contract/cold-room-1/violation', (m) => m.at >= start, 10_000));
    assert.equal(violation.type, 'violation');
    await reading(freezerA, -22);
    await box.waitFor('contract/cold-room-1/excursion.ended', (m) => m.at >= start);
  });

  it('audits clean with the CLI once Node-RED has stopped (SIGINT closes the ledger)', async () => {
    await rt.stop();
    const { code, report, stderr } = await cliAudit(rt.ledgerDir);
    assert.equal(code, 0, `audit exit ${code}: ${JSON.stringify(report.findings.slice(0, 3))}\n${stderr}`);
    assert.equal(report.clean, true);
    assert.deepEqual(report.findings, []);
    const highest = Math.max(...[...acked.values()].map((a) => a.index));
    assert.ok(report.size > highest, `ledger size ${report.size} holds every acknowledged index (up to ${highest})`);

    // What the audit vouched for: the violation and both rejections are on the ledger.
    const ledger = await Ledger.open(rt.ledgerDir, { readOnly: true });
    try {
      const all: StoredRecord[] = [];
      for await (const r of ledger.range(0)) all.push(r);
      const events = all.filter((r) => r.record.type === 'contract.event').map((r) => (r.record.body as { event: { type: string } }).event.type);
      assert.ok(events.includes('violation'), `contract events on the ledger: ${events.join(', ')}`);
      const security = all.filter((r) => r.record.type === 'security').map((r) => (r.record.body as { code: string }).code);
      for (const c of ['ERR_BAD_SIGNATURE', 'ERR_REPLAY']) assert.ok(security.includes(c), `security records: ${security.join(', ')}`);
      for (const [key, a] of acked) {
        const r = all[a.index];
        assert.equal(r.record.type, 'reading', `ack ${key} -> #${a.index}`);
        assert.equal((r.record.body as { counter: number }).counter, Number(key.split('/')[1]));
      }
    } finally {
      await ledger.close();
    }
  });

  it('finds one byte changed in a stored record and names that record first', async () => {
    const target = acked.get(`${freezerB.name}/2`)!.index;
    const db = await openRawDb(rt.ledgerDir);
    try {
      const value = await db.get(recordKey(target));
      assert.ok(value && value.length > 40, `record #${target} is stored`);
      const at = 32 + Math.floor((value.length - 32) / 2);
      const changed = Buffer.from(value);
      changed[at] ^= 0x01;
      await db.put(recordKey(target), changed);
    } finally {
      await db.close();
    }
    const { code, report } = await cliAudit(rt.ledgerDir);
    assert.equal(code, 1, 'exit 1: findings');
    assert.equal(report.clean, false);
    assert.ok(report.findings.length > 0);
    assert.equal(report.findings[0].index, target, `first finding ${JSON.stringify(report.findings[0])}`);
  });

  it('logged no error or warning from the pack (caught rejections are not logged)', () => {
    const bad = rt
      .output()
      .split('\n')
      .filter((l) => /\[error\]/.test(l) || (/\[warn\]/.test(l) && /iot-ledger/.test(l)));
    assert.deepEqual(bad, []);
  });
});
