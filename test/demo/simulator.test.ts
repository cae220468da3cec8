import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { ColdRoomModel, seededRandom, type Sample } from '../../demo/cold-room-model';
import { freePort } from '../../demo/ports';
import { startSimulator, type Simulator } from '../../demo/simulator';

function run(seed: number, minutes: number): Array<Sample & { t: number }> {
  const model = new ColdRoomModel(0, { random: seededRandom(seed) });
  const out = [];
  for (let t = 0; t <= minutes * 60_000; t += 2000) out.push({ t, ...model.sample(t) });
  return out;
}

/** Consecutive runs of samples that satisfy `pred`, as [first t, last t]. */
function runs(samples: Array<Sample & { t: number }>, pred: (s: Sample) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of samples) {
    const last = out[out.length - 1];
    if (!pred(s)) continue;
    if (last && last[1] === s.t - 2000) last[1] = s.t;
    else out.push([s.t, s.t]);
  }
  return out;
}

describe('demo/cold-room-model', () => {
  const samples = run(7, 30);

  it('stays below -20 °C except during excursions, and above it throughout them', () => {
    for (const s of samples) {
      if (s.phase === 'excursion') assert.ok(s.temperature > -20, `t=${s.t}: ${s.temperature}`);
      else assert.ok(s.temperature <= -20.6, `t=${s.t}: ${s.temperature}`);
      assert.equal(Math.round(s.temperature * 10) / 10, s.temperature, 'one decimal');
      assert.ok(s.temperature > -24, `t=${s.t}: ${s.temperature}`);
    }
  });

  it('has its first excursion at 60 s lasting about 40 s, then more every 4 to 8 min', () => {
    const above = runs(samples, (s) => s.temperature > -20);
    assert.deepEqual(above[0], [60_000, 98_000]);
    assert.ok(above.length >= 4 && above.length <= 7, `${above.length} excursions in 30 min`);
    for (const [a, b] of above) assert.ok(b - a + 2000 >= 38_000 && b - a + 2000 <= 42_000, `excursion ${a}..${b}`);
    for (let i = 1; i < above.length; i++) {
      const gap = above[i][0] - above[i - 1][1];
      assert.ok(gap >= 240_000 && gap <= 482_000, `gap ${gap}`);
    }
  });

  it('opens the door first at 20 s for about 6 s, closed otherwise', () => {
    const open = runs(samples, (s) => s.door === 'open');
    assert.deepEqual(open[0], [20_000, 24_000]);
    assert.ok(open.length >= 4, `${open.length} door openings in 30 min`);
    assert.ok(samples.filter((s) => s.door === 'open').length < samples.length / 10);
    for (const s of samples) if (s.phase === 'door-open') assert.equal(s.door, 'open');
  });

  it('is reproducible with a seed and varies between seeds', () => {
    assert.deepEqual(run(7, 10), run(7, 10));
    assert.notDeepEqual(run(7, 10), run(8, 10));
  });

  it('rejects a base temperature that is not below the limit', () => {
    assert.throws(() => new ColdRoomModel(0, { baseTemperature: -20.5 }), RangeError);
  });
});

describe('demo/simulator', () => {
  let broker: RunningBroker;
  let sub: mqtt.MqttClient;
  let sim: Simulator | undefined;
  let tmp: string;

  before(async () => {
    broker = await startBroker({ port: 0 });
    sub = await mqtt.connectAsync(broker.url, { clientId: 'test-sub', reconnectPeriod: 0 }, false);
    await sub.subscribeAsync('coldroom/+/reading', { qos: 1 });
  });

  after(async () => {
    await sub.endAsync(true);
    await broker.close();
  });

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-sim-'));
  });

  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
    sub.removeAllListeners('message');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Collects `n` messages per sensor. */
  function collect(sensors: string[], n: number): Promise<Map<string, Array<{ topic: string; payload: Buffer }>>> {
    const got = new Map(sensors.map((s) => [s, [] as Array<{ topic: string; payload: Buffer }>]));
    return new Promise((resolve) => {
      sub.on('message', (topic, payload) => {
        const sensor = topic.split('/')[1];
        got.get(sensor)?.push({ topic, payload });
        if ([...got.values()].every((l) => l.length >= n)) resolve(got);
      });
    });
  }

  it('publishes plain JSON readings per sensor on coldroom/<sensor>/reading with increasing counters', async () => {
    const t0 = Date.now();
    const got = collect(['s1', 's2'], 5);
    sim = await startSimulator({ brokerUrl: broker.url, sensors: ['s1', 's2'], intervalMs: 40 });
    for (const [sensor, msgs] of await got) {
      const readings = msgs.map((m) => {
        assert.equal(m.topic, `coldroom/${sensor}/reading`);
        return JSON.parse(m.payload.toString()) as Record<string, unknown>;
      });
      for (const [i, r] of readings.entries()) {
        assert.deepEqual(Object.keys(r), ['temperature', 'door', 'counter', 'time']);
        assert.equal(r.counter, i + 1);
        assert.equal(typeof r.temperature, 'number');
        assert.ok((r.temperature as number) < -20, 'no excursion in the first seconds');
        assert.equal(r.door, 'closed');
        assert.ok((r.time as number) >= t0 && (r.time as number) <= Date.now());
      }
    }
  });

  it('sends what the injected sign function returns', async () => {
    const got = collect(['dev-a'], 3);
    sim = await startSimulator({
      brokerUrl: broker.url,
      sensors: ['dev-a'],
      intervalMs: 40,
      sign: (reading, sensor) => `signed-by-${sensor}.${Buffer.from(JSON.stringify(reading)).toString('base64url')}`,
    });
    const msgs = (await got).get('dev-a')!;
    for (const [i, m] of msgs.entries()) {
      const [who, body] = m.payload.toString().split('.');
      assert.equal(who, 'signed-by-dev-a');
      assert.equal((JSON.parse(Buffer.from(body, 'base64url').toString()) as { counter: number }).counter, i + 1);
    }
  });

  it('keeps counters increasing across restarts through its state file', async () => {
    const stateFile = path.join(tmp, 'state', 'sim.json');
    const counters: number[] = [];
    let notify = (): void => undefined;
    sub.on('message', (_topic, payload) => {
      counters.push((JSON.parse(payload.toString()) as { counter: number }).counter);
      notify();
    });
    const until = (pred: () => boolean): Promise<void> =>
      new Promise((resolve) => {
        notify = () => pred() && resolve();
        notify();
      });

    sim = await startSimulator({ brokerUrl: broker.url, sensors: ['s1'], intervalMs: 40, stateFile });
    await until(() => counters.length >= 3);
    await sim.stop();
    const last = sim.counters().s1;
    assert.deepEqual(JSON.parse(fs.readFileSync(stateFile, 'utf8')), { s1: last });
    // Every reading of the first run has arrived before the second run starts.
    await until(() => counters.includes(last));
    const firstRun = counters.length;
    assert.deepEqual(counters, Array.from({ length: last }, (_, i) => i + 1));

    sim = await startSimulator({ brokerUrl: broker.url, sensors: ['s1'], intervalMs: 40, stateFile });
    await until(() => counters.length > firstRun);
    assert.equal(counters[firstRun], last + 1);
  });

  it('refuses a state file that is not JSON instead of restarting counters', async () => {
    const stateFile = path.join(tmp, 'sim.json');
    fs.writeFileSync(stateFile, '{"s1": 4');
    await assert.rejects(startSimulator({ brokerUrl: broker.url, sensors: ['s1'], stateFile }), /not valid JSON/);
  });

  it('rejects sensor names that would break the topic', async () => {
    await assert.rejects(startSimulator({ brokerUrl: broker.url, sensors: ['a/b'] }), RangeError);
    await assert.rejects(startSimulator({ brokerUrl: broker.url, sensors: ['#'] }), RangeError);
  });

  it('fails fast with a clear error when no broker listens', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    await assert.rejects(startSimulator({ brokerUrl: url, sensors: ['s1'] }), (err: Error) => {
      assert.match(err.message, new RegExp(`^simulator could not connect to ${url.replace(/\./g, '\\.')}`));
      return true;
    });
  });
});
