// The shipped examples/cold-room.json in a real Node-RED with a real broker, as an attacker
// meets it: the example's nodes unchanged (only its broker pointed at the test broker), plus
// probe nodes on its tab that report over MQTT what the example shows in the debug sidebar:
//   probe/rejected  {code, topic, payload} of every error of Verify, Contract and Record (optional)
//   probe/recorded  {index, device, counter} of every reading Record wrote
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ledgerPaths } from '../../lib/gateway/paths';
import { prepareLedger } from '../../demo/ledger';
import { LedgerRuntime, Mailbox, probeUntilAnswered, type Probe, type Received, type Sensor } from './ledger-runtime';
import { projectRoot } from './paths';

export const PROBE = { rejected: 'probe/rejected', recorded: 'probe/recorded' } as const;

type FlowNode = Record<string, unknown> & { id: string; type: string };

export interface ExampleOptions {
  /** Add the Catch probe that republishes every rejection on PROBE.rejected (default true). */
  rejected?: boolean;
  /**
   * Wire the readings' MQTT in to a function that drops them instead of to Verify: the same
   * Node-RED and intake without the pack's work, the baseline a flood's cost is measured against.
   * The sink answers a reading whose payload is the Buffer `ping` on PROBE.recorded (`pong`).
   */
  sink?: boolean;
}

/** examples/cold-room.json with its broker set to 127.0.0.1:port and the probe nodes added. */
export function coldRoomExample(brokerPort: number, probes: ExampleOptions = {}): { flow: FlowNode[]; ledgerName: string } {
  const flow = JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'cold-room.json'), 'utf8')) as FlowNode[];
  const one = (type: string): FlowNode => {
    const found = flow.filter((n) => n.type === type);
    if (found.length !== 1) throw new Error(`examples/cold-room.json has ${found.length} ${type} nodes`);
    return found[0];
  };
  const broker = one('mqtt-broker');
  broker.broker = '127.0.0.1';
  broker.port = String(brokerPort);
  const verify = one('iot-ledger-verify');
  const contract = one('iot-ledger-contract');
  const record = one('iot-ledger-record');
  const ledger = one('iot-ledger-config');
  const z = verify.z as string;
  const out = (id: string, topic: string): FlowNode => ({
    id, type: 'mqtt out', z, name: '', topic, qos: '0', retain: 'false', respTopic: '', contentType: '', userProps: '',
    correl: '', expiry: '', broker: broker.id, x: 900, y: 600, wires: [],
  });
  const fn = (id: string, func: string, next: string): FlowNode => ({
    id, type: 'function', z, name: id, func, outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [], x: 700, y: 600, wires: [[next]],
  });
  if (probes.rejected !== false)
    flow.push(
      { id: 'probe-catch', type: 'catch', z, name: '', scope: [verify.id, contract.id, record.id], uncaught: false, x: 500, y: 600, wires: [['probe-rejected-fn']] },
      fn('probe-rejected-fn', 'msg.payload = { code: msg.error.code, topic: msg.topic, payload: msg.payload }; msg.topic = "probe/rejected"; return msg;', 'probe-rejected'),
      out('probe-rejected', ''),
    );
  flow.push(
    { id: 'probe-complete', type: 'complete', z, name: '', scope: [record.id], uncaught: false, x: 500, y: 640, wires: [['probe-recorded-fn']] },
    fn(
      'probe-recorded-fn',
      'msg.payload = { index: msg.ledger.index, device: msg.device.name, counter: msg.verified.counter }; msg.topic = "probe/recorded"; return msg;',
      'probe-recorded',
    ),
    out('probe-recorded', ''),
  );
  if (probes.sink) {
    const readings = flow.filter((n) => n.type === 'mqtt in' && String(n.topic).endsWith('/reading'));
    if (readings.length !== 1) throw new Error(`examples/cold-room.json has ${readings.length} MQTT in nodes for readings`);
    readings[0].wires = [['probe-sink']];
    flow.push(fn('probe-sink', 'return String(msg.payload) === "ping" ? { topic: "probe/recorded", payload: "pong" } : null;', 'probe-recorded'));
  }
  return { flow, ledgerName: String(ledger.ledgerName) };
}

/** A runtime with the example deployed and `sensors` enrolled in its ledger beforehand. */
export async function startColdRoomExample(prefix: string, sensors: Sensor[], probes: ExampleOptions = {}): Promise<{ rt: LedgerRuntime; box: Mailbox; ledgerName: string }> {
  const probe = coldRoomExample(0);
  const rt = await LedgerRuntime.create({ ledgerName: probe.ledgerName, prefix });
  try {
    const paths = ledgerPaths(rt.userDir, probe.ledgerName);
    fs.mkdirSync(path.dirname(paths.dir), { recursive: true });
    await prepareLedger({ dir: paths.dir, keyFile: paths.keyFile, name: probe.ledgerName, devices: sensors.map((s) => ({ did: s.did, name: s.name })) });
    const box = await Mailbox.connect(rt.broker.url, [PROBE.rejected, PROBE.recorded]);
    const { flow } = coldRoomExample(rt.broker.port, probes);
    await rt.nr.deployFlows(flow);
    return { rt, box, ledgerName: probe.ledgerName };
  } catch (err) {
    await rt.dispose();
    throw err;
  }
}

/** Sends a signed reading every 500 ms until Record reports one: the flow is subscribed and running. */
export async function waitRecording(box: Mailbox, sensor: Sensor, timeoutMs = 30_000): Promise<void> {
  const next = (): Probe => {
    const payload = sensor.next(-22);
    const answered = (m: Received): boolean => (JSON.parse(m.text) as { counter: number }).counter === payload.counter;
    return { topic: `coldroom/${sensor.name}/reading`, payload: sensor.sign(payload), answer: PROBE.recorded, answered };
  };
  await probeUntilAnswered(box, `a reading of ${sensor.name} recorded`, next, timeoutMs);
}
