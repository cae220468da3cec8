import { ReportBudget } from '../lib/report-budget';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, NodeMessage, RED } from './lib/red';
import { formatCount, status } from './lib/status';

/** Status updates at most this often (the counts are exact, only their display waits). */
const STATUS_EVERY_MS = 250;
/** Rejections handed to Catch nodes (and the second output) per second at most; the rest are only counted. */
const REPORTS_PER_SECOND = 100;

export = function register(RED: RED): void {
  function Verify(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const tofu = def.tofu === true;
    const requireFreshness = def.requireFreshness !== false;
    const recordRejections = def.recordRejections !== false;
    const rejectOutput = Number(def.outputs) === 2;
    let verified = 0;
    let rejected = 0;
    let shed = 0;
    let unreported = 0;
    const reports = new ReportBudget(REPORTS_PER_SECOND);
    // A flood would otherwise send a status update to the editor per message.
    let shown = 0;
    let pending: NodeJS.Timeout | undefined;
    const render = () => {
      pending = undefined;
      shown = Date.now();
      const counts = `verified ${formatCount(verified)}${rejected ? ` · rejected ${formatCount(rejected)}` : ''}${shed ? ` · shed ${formatCount(shed)}` : ''}${unreported ? ` · ${formatCount(unreported)} unreported` : ''}`;
      this.status(rejected ? status.warn(counts) : status.ok(counts));
    };
    const show = () => {
      if (pending) return;
      const wait = shown + STATUS_EVERY_MS - Date.now();
      if (wait <= 0) render();
      else pending = setTimeout(render, wait);
    };
    this.on('close', (_removed, done) => {
      if (pending) clearTimeout(pending);
      done();
    });

    onInput(this, async (msg, send, done) => {
      const envelope = msg.payload;
      try {
        const gw = await gateway();
        try {
          const hint = typeof msg.device === 'string' ? msg.device : undefined;
          const v = await gw.verify(envelope, { tofu, requireFreshness, deviceHint: hint });
          verified++;
          show();
          msg.payload = v.payload;
          msg.device = { id: v.device.did, name: v.device.name, ...(v.tofu ? { tofu: true } : {}) };
          msg.envelope = typeof v.envelope === 'string' ? v.envelope : Buffer.from(v.envelope);
          msg.verified = { format: v.format, alg: v.alg, counter: v.freshness.counter, time: v.freshness.time, proof: v.proof };
          send(rejectOutput ? [msg, null] : msg);
          done();
        } catch (err) {
          rejected++;
          const code = errorCode(err);
          if (code === 'ERR_OVERLOADED') shed++;
          show();
          if (recordRejections && code !== 'ERR_LEDGER_CLOSED') {
            const device = (err as { details?: { device?: string } }).details?.device;
            await gw.securityEvent(err, { source: 'verify', topic: typeof msg.topic === 'string' ? msg.topic.slice(0, 200) : undefined, device });
          }
          if (!reports.take()) {
            unreported++;
            done();
            return;
          }
          if (rejectOutput) {
            const out: NodeMessage = { ...msg, rejected: { code, message: (err as Error).message } };
            send([null, out]);
          }
          done(nodeError(err));
        }
      } catch (err) {
        this.status(status.error(errorCode(err)));
        done(nodeError(err));
      }
    });
  }
  RED.nodes.registerType('iot-ledger-verify', Verify);
};
