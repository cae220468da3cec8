import { CATCH_REPORTS_PER_SECOND, ReportBudget } from '../lib/guards/report-budget';
import { DEFAULT_TOFU_BURST, DEFAULT_TOFU_MAX_DEVICES, DEFAULT_TOFU_REFILL_MS, type TofuLimits } from '../lib/gateway/tofu-limit';
import type { TofuClaim } from '../lib/gateway/tofu-claims';
import { wholeNumberSetting } from './lib/config-text';
import { errorCode, finishUnreported, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Gateway, GatewayVerified } from '../lib/gateway';
import type { DoneFn, Node, NodeDef, NodeMessage, RED, SendFn } from './lib/red';
import { formatCount, status } from './lib/status';

/** Status updates at most this often (the counts are exact, only their display waits). */
const STATUS_EVERY_MS = 250;
/** The largest TOFU settings the editor takes (nodes/editor/verify/index.ts). */
const MAX_TOFU_DEVICES_SETTING = 65536;
const MAX_TOFU_BURST_SETTING = 4096;
const MAX_TOFU_EVERY_SETTING = 86400;

export = function register(RED: RED): void {
  function Verify(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const tofu = def.tofu === true;
    const requireFreshness = def.requireFreshness !== false;
    const recordRejections = def.recordRejections !== false;
    const rejectOutput = Number(def.outputs) === 2;
    // What trust on first use may admit on this ledger (lib/gateway/tofu-limit.ts).
    const limits: TofuLimits = {};
    if (tofu) {
      const maxDevices = wholeNumberSetting(this, def.tofuMaxDevices, MAX_TOFU_DEVICES_SETTING, 'verify: TOFU max devices', DEFAULT_TOFU_MAX_DEVICES);
      const burst = wholeNumberSetting(this, def.tofuBurst, MAX_TOFU_BURST_SETTING, 'verify: TOFU burst', DEFAULT_TOFU_BURST);
      const every = wholeNumberSetting(this, def.tofuEvery, MAX_TOFU_EVERY_SETTING, 'verify: TOFU seconds per admission', DEFAULT_TOFU_REFILL_MS / 1000);
      if (maxDevices !== undefined) limits.maxDevices = maxDevices;
      if (burst !== undefined) limits.burst = burst;
      if (every !== undefined) limits.refillMs = every * 1000;
    }
    let verified = 0;
    let rejected = 0;
    let shed = 0;
    let tofuLimited = 0;
    let unreported = 0;
    /** This node's TOFU limits held on the gateway while it runs (tofu on). */
    let claim: TofuClaim | undefined;
    let closed = false;
    const reports = new ReportBudget(CATCH_REPORTS_PER_SECOND);
    // A flood would otherwise send a status update to the editor per message.
    let shown = 0;
    let pending: NodeJS.Timeout | undefined;
    const render = () => {
      pending = undefined;
      shown = Date.now();
      const part = (key: string, count: number): string => RED._(`iot-ledger-verify.status.${key}`, { count: formatCount(count) });
      const parts = [part('verified', verified)];
      if (rejected) parts.push(part('rejected', rejected));
      if (shed) parts.push(part('shed', shed));
      if (tofuLimited) parts.push(part('tofuLimited', tofuLimited));
      if (unreported) parts.push(part('unreported', unreported));
      if (claim?.overridden) parts.push(RED._('iot-ledger-verify.status.tofuShared'));
      const counts = parts.join(' · ');
      this.status(rejected || claim?.overridden ? status.warn(counts) : status.ok(counts));
    };
    const show = () => {
      if (pending) return;
      const wait = shown + STATUS_EVERY_MS - Date.now();
      if (wait <= 0) render();
      else pending = setTimeout(render, wait);
    };
    this.on('close', (_removed, done) => {
      if (pending) clearTimeout(pending);
      closed = true;
      claim?.release();
      done();
    });

    const accepted = (msg: NodeMessage, send: SendFn, done: DoneFn, v: GatewayVerified): void => {
      verified++;
      show();
      msg.payload = v.payload;
      const device: { id: string; name: string; tofu?: true } = { id: v.device.did, name: v.device.name };
      if (v.tofu) device.tofu = true;
      msg.device = device;
      msg.envelope = typeof v.envelope === 'string' ? v.envelope : Buffer.from(v.envelope);
      msg.verified = { format: v.format, alg: v.alg, counter: v.freshness.counter, time: v.freshness.time, proof: v.proof };
      send(rejectOutput ? [msg, null] : msg);
      done();
    };

    // Kept synchronous when nothing is written (a flood's rejections): no promise per message.
    const refused = (gw: Gateway, msg: NodeMessage, send: SendFn, done: DoneFn, err: unknown): void => {
      rejected++;
      const code = errorCode(err);
      if (code === 'ERR_OVERLOADED') shed++;
      else if (code === 'ERR_TOFU_LIMIT') tofuLimited++;
      show();
      const report = () => {
        if (!reports.take()) {
          // Counted, not reported: a Complete node still tells it from an accepted message.
          unreported++;
          finishUnreported(msg, err, RED._, done);
          return;
        }
        const e = nodeError(err, RED._);
        if (rejectOutput) send([null, { ...msg, rejected: { code, message: e.message } }]);
        done(e);
      };
      if (!recordRejections || code === 'ERR_LEDGER_CLOSED') return report();
      const device = (err as { details?: { device?: string } }).details?.device;
      const written = gw.noteSecurityEvent(err, { source: 'verify', topic: typeof msg.topic === 'string' ? msg.topic.slice(0, 200) : undefined, device });
      if (written) written.then(report, (e: unknown) => done(nodeError(e)));
      else report();
    };

    const plain = { tofu, requireFreshness };
    const run = (gw: Gateway, msg: NodeMessage, send: SendFn, done: DoneFn): void => {
      const opts = typeof msg.device === 'string' ? { tofu, requireFreshness, deviceHint: msg.device } : plain;
      gw.verifyThen(msg.payload, opts, (err, v) => {
        try {
          if (err) refused(gw, msg, send, done, err);
          else accepted(msg, send, done, v as GatewayVerified);
        } catch (e) {
          done(nodeError(e));
        }
      });
    };

    // The TOFU allowance is the ledger's: this node's limits count from deploy on, the strictest
    // of the Verify nodes sharing the ledger apply (lib/gateway/tofu-claims.ts). A node whose own
    // settings do not hold says so (warning, status), and again whenever what applies changes.
    if (tofu) {
      let warned: string | undefined;
      const heed = (c: TofuClaim): void => {
        const applied = `${c.applied.maxDevices} devices, ${c.applied.burst} at once, one more every ${c.applied.refillMs / 1000} s`;
        if (c.overridden && warned !== applied) {
          warned = applied;
          this.warn(`verify: TOFU limits are shared by the Verify nodes of this ledger and the strictest apply: ${applied}, not this node's settings`);
        }
        if (!c.overridden) warned = undefined;
        show();
      };
      gateway().then(
        (gw) => {
          if (closed) return;
          try {
            claim = gw.claimTofuLimits(limits, heed);
          } catch (err) {
            // The settings are whole numbers already (wholeNumberSetting); a refusal is reported, never left unhandled.
            this.error(nodeError(err, RED._));
            return;
          }
          if (claim.overridden) heed(claim);
        },
        // Reported to each message (and by the Ledger node).
        () => undefined,
      );
    }

    let ready: Gateway | undefined;
    onInput(this, RED._, (msg, send, done) => {
      if (ready) return run(ready, msg, send, done);
      gateway().then(
        (gw) => {
          ready = gw;
          run(gw, msg, send, done);
        },
        (err: unknown) => {
          this.status(status.error(errorCode(err)));
          done(nodeError(err));
        },
      );
    });
  }
  RED.nodes.registerType('iot-ledger-verify', Verify);
};
