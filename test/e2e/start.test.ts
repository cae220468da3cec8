import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { AdminClient } from '../../lib/runtime/admin-client';
import { assertPortFree, freePort } from '../../lib/runtime/ports';
import { scratchDir } from '../support/e2e';
import { projectRoot } from '../support/paths';

// `npm start` as a user runs it (dist/bin/start.js), on free ports and a scratch user dir.

const startJs = path.join(projectRoot, 'dist', 'bin', 'start.js');
const exampleFlow = path.join(projectRoot, 'examples', 'cold-room.json');

/** id and type of each node: what identifies a flow export, whatever Node-RED adds or strips. */
const shape = (flows: unknown[]): string[] => flows.map((n) => `${(n as { id: string }).id}:${(n as { type: string }).type}`);

interface Started {
  child: ChildProcess;
  out: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

const running = new Set<ChildProcess>();

function runStart(args: string[]): Started {
  const env = { ...process.env };
  for (const k of ['HOST', 'PORT', 'MQTT_HOST', 'MQTT_PORT', 'NODE_RED_USER_DIR', 'SENSORS']) delete env[k];
  const child = spawn(process.execPath, [startJs, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const out: string[] = [];
  const listeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      out.push(...parts);
      for (const l of listeners) l();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const waitFor = (re: RegExp, timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = out.find((l) => re.test(l));
        if (hit !== undefined) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`start printed no line matching ${re} in ${timeoutMs} ms:\n${out.join('\n')}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => {
        if (!listeners.has(check)) return;
        listeners.delete(check);
        clearTimeout(timer);
        reject(new Error(`start exited before printing ${re}:\n${out.join('\n')}`));
      });
      check();
    });
  return { child, out, exited, waitFor };
}

/** Subscribes and returns the counters seen per sensor, once each listed sensor has sent `n`. */
async function readings(url: string, sensors: string[], n: number): Promise<Map<string, number[]>> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 }, false);
  try {
    const seen = new Map(sensors.map((s) => [s, [] as number[]]));
    const done = new Promise<void>((resolve) =>
      client.on('message', (topic, payload) => {
        const [, sensor, kind] = topic.split('/');
        assert.equal(kind, 'reading');
        const r = JSON.parse(payload.toString()) as { temperature: number; door: string; counter: number; time: number };
        assert.deepEqual(Object.keys(r), ['temperature', 'door', 'counter', 'time']);
        seen.get(sensor)?.push(r.counter);
        if ([...seen.values()].every((c) => c.length >= n)) resolve();
      }),
    );
    await client.subscribeAsync('coldroom/+/reading', { qos: 1 });
    await done;
    return seen;
  } finally {
    await client.endAsync(true);
  }
}

describe('e2e: npm start', function () {
  this.timeout(90_000);

  after(() => {
    for (const c of running) c.kill('SIGKILL');
  });

  it('runs broker, Node-RED and sensors, stops on Ctrl-C, and resumes flows and counters on the next start', async () => {
    const userDir = path.join(scratchDir('start'), 'nr');
    const [port, mqttPort] = [await freePort(), await freePort()];
    const args = ['--port', String(port), '--mqtt-port', String(mqttPort), '--user-dir', userDir, '--sensors', 'cold-a,cold-b'];
    const admin = new AdminClient(`http://127.0.0.1:${port}`);

    // First start: seeded flows.
    let run = runStart(args);
    await run.waitFor(/What to look at/);
    assert.ok(run.out.some((l) => l.includes(`editor:  http://127.0.0.1:${port}/`)), run.out.join('\n'));
    assert.ok(run.out.some((l) => l.includes(`mqtt://127.0.0.1:${mqttPort}`)));
    assert.ok(run.out.some((l) => /first start/.test(l)));
    const expected = fs.existsSync(exampleFlow) ? (JSON.parse(fs.readFileSync(exampleFlow, 'utf8')) as unknown[]) : [];
    assert.deepEqual(shape((await admin.getFlows()).flows), shape(expected));
    const firstCounters = await readings(`mqtt://127.0.0.1:${mqttPort}`, ['cold-a', 'cold-b'], 2);
    for (const c of firstCounters.values()) for (let i = 1; i < c.length; i++) assert.ok(c[i] > c[i - 1]);
    const marker = [...expected, { id: 'harness-marker-tab', type: 'tab', label: 'added during the first run' }];
    await admin.deployFlows(marker);

    run.child.kill('SIGINT');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out.join('\n'));
    assert.ok(run.out.includes('stopped.'), run.out.join('\n'));
    await assertPortFree('127.0.0.1', port, 'editor port still held');
    await assertPortFree('127.0.0.1', mqttPort, 'broker port still held');
    const state = JSON.parse(fs.readFileSync(path.join(userDir, 'simulator-state.json'), 'utf8')) as Record<string, number>;
    assert.ok(state['cold-a'] >= Math.max(...firstCounters.get('cold-a')!));

    // Second start: the same flows, counters carry on.
    run = runStart(args);
    await run.waitFor(/What to look at/);
    assert.ok(run.out.some((l) => /resuming the flows/.test(l)), run.out.join('\n'));
    assert.deepEqual(shape((await admin.getFlows()).flows), shape(marker));
    const second = await readings(`mqtt://127.0.0.1:${mqttPort}`, ['cold-a'], 1);
    assert.ok(second.get('cold-a')![0] > state['cold-a'], 'counter continues after the restart');

    run.child.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out.join('\n'));
  });

  it('says which port is taken and how to choose another, and leaves nothing running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const free = await freePort();
    const userDir = path.join(scratchDir('start'), 'nr');
    try {
      let run = runStart(['--port', String(taken), '--mqtt-port', String(free), '--user-dir', userDir]);
      assert.deepEqual(await run.exited, { code: 1, signal: null });
      assert.deepEqual(run.out.filter(Boolean), [`start: port ${taken} is in use; set PORT or --port`]);

      run = runStart(['--port', String(free), '--mqtt-port', String(taken), '--user-dir', userDir]);
      assert.deepEqual(await run.exited, { code: 1, signal: null });
      assert.deepEqual(run.out.filter(Boolean), [`start: port ${taken} is in use; set MQTT_PORT or --mqtt-port`]);
      await assertPortFree('127.0.0.1', free, 'left running');
      assert.ok(!fs.existsSync(userDir), 'nothing written before the ports are known to be free');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('rejects unknown options with usage and exit code 2', async () => {
    const run = runStart(['--prot', '1880']);
    assert.deepEqual(await run.exited, { code: 2, signal: null });
    assert.match(run.out.join('\n'), /Unknown option '--prot'[\s\S]*usage: npm start/);
  });
});
