import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, NodeMessage, RED } from './lib/red';
import { formatCount, status } from './lib/status';

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
    const show = () =>
      this.status(
        rejected
          ? status.warn(`verified ${formatCount(verified)} · rejected ${formatCount(rejected)}`)
          : status.ok(`verified ${formatCount(verified)}`),
      );

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
          show();
          const code = errorCode(err);
          if (recordRejections) {
            const device = (err as { details?: { device?: string } }).details?.device;
            await gw.securityEvent(err, { source: 'verify', topic: typeof msg.topic === 'string' ? msg.topic.slice(0, 200) : undefined, device });
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
