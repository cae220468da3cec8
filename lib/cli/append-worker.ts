// The worker thread of `iot-ledger append`: lines in, encoded records out (see append-lines.ts).
// Messages in: {settings} once, then {chunk: ArrayBuffer, now} or {overlong: true}, in order.
import { parentPort } from 'node:worker_threads';
import { LineEncoder, type LineMessage, type LineSettings } from './append-lines';

type Incoming = { settings: LineSettings } | { chunk: ArrayBuffer; now: number } | { overlong: true };

const port = parentPort;
if (!port) throw new Error('append-worker runs as a worker thread');
let encoder: LineEncoder | null = null;
const emit = (m: LineMessage): void => {
  if (m.kind === 'batch') port.postMessage(m, [m.encoded.buffer]);
  else port.postMessage(m);
};
port.postMessage({ kind: 'ready' } satisfies LineMessage);
port.on('message', (m: Incoming) => {
  if ('settings' in m) encoder = new LineEncoder(m.settings);
  else if (!encoder) throw new Error('append-worker: lines before its settings');
  else if ('chunk' in m) encoder.lines(new Uint8Array(m.chunk), m.now, emit);
  else encoder.overlong(emit);
});
