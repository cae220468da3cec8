import { LedgerError } from '../lib/errors';
import { CATCH_REPORTS_PER_SECOND, ReportBudget } from '../lib/guards/report-budget';
import { Turns } from '../lib/guards/turns';
import { blockView, collectViews, latestViews, recordView, type QueryViews } from '../lib/ledger';
import { errorCode, finishUnreported, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, NodeMessage, RED } from './lib/red';
import { formatCount, status, STATUS_EVERY_MS } from './lib/status';
import { throttle } from '../lib/guards/throttle';

/**
 * Queries of one node running at once, and waiting: an answer holds up to 8 MiB, so a flood
 * of query messages (an HTTP In or MQTT in wired to the node) is refused, not piled up.
 */
const QUERY_TURNS = { maxActive: 2, maxWaiting: 16 };

const MODES = ['latest', 'index', 'range', 'device', 'type', 'time', 'proof', 'block'] as const;
type Mode = (typeof MODES)[number];

function int(v: unknown, name: string, fallback?: number): number {
  if (v === undefined || v === null || v === '') {
    if (fallback !== undefined) return fallback;
    throw new LedgerError('ERR_INVALID_ARGUMENT', `"${name}" is required`);
  }
  // A number, or decimal digits (an HTTP query string's): not true (1), '0x10' (16), '1e3' or ' 7 '.
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new LedgerError('ERR_INVALID_ARGUMENT', `"${name}" must be a non-negative integer`);
  return n;
}

function time(v: unknown, name: string, fallback: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const t = typeof v === 'number' ? v : v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new LedgerError('ERR_INVALID_ARGUMENT', `"${name}" must be a time (ms or ISO 8601)`);
  return t;
}

export = function register(RED: RED): void {
  function Query(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const defaultMode = (MODES as readonly string[]).includes(String(def.mode)) ? (def.mode as Mode) : 'latest';
    const configuredLimit = Number(def.limit);
    const defaultLimit = Number.isSafeInteger(configuredLimit) && configuredLimit > 0 ? configuredLimit : 100;
    const turns = new Turns(QUERY_TURNS, 'queries');
    let shed = 0;
    const shedText = (): string => RED._('iot-ledger-query.status.shed', { count: formatCount(shed) });
    const withShed = (text: string): string => (shed > 0 ? `${text} · ${shedText()}` : text);
    const shedStatus = throttle(() => this.status(status.warn(shedText())), STATUS_EVERY_MS);
    this.on('close', () => {
      shedStatus.cancel();
      // Queries still waiting for a turn end with an error rather than run on a closing ledger.
      turns.close(new LedgerError('ERR_LEDGER_CLOSED', 'the query node was stopped (redeployed or removed)'));
    });

    // Refusals of a flood reach Catch nodes at most CATCH_REPORTS_PER_SECOND a second; the rest
    // finish with msg.rejected (unreported: true) and are counted in the status.
    const refusals = new ReportBudget(CATCH_REPORTS_PER_SECOND);

    onInput(this, RED._, async (msg, send, done) => {
      try {
        await turns.run(() => answer(msg));
        // Its status (which counts the refused too) stays: a pending drawing of the count would overwrite it.
        shedStatus.cancel();
        send(msg);
        done();
      } catch (err) {
        if (errorCode(err) === 'ERR_OVERLOADED') {
          shed++;
          shedStatus.request();
          if (!refusals.take()) return finishUnreported(msg, err, RED._, () => done());
        } else {
          shedStatus.cancel();
          this.status(status.error(errorCode(err)));
        }
        done(nodeError(err));
      }
    });

    /** Sets msg.payload to the query's answer (and msg.truncated when the list was cut). */
    const answer = async (msg: NodeMessage): Promise<void> => {
      const q = (msg.payload && typeof msg.payload === 'object' ? msg.payload : {}) as Record<string, unknown>;
      const mode = (typeof q.mode === 'string' ? q.mode : defaultMode) as Mode;
      if (!MODES.includes(mode)) throw new LedgerError('ERR_INVALID_ARGUMENT', `unknown query mode ${JSON.stringify(mode)}`);
      const limit = Math.min(int(q.limit, 'limit', defaultLimit), 10000);
      const gw = await gateway();
      const l = gw.ledger;
      let result: unknown;
      let list: QueryViews | undefined;
      switch (mode) {
        case 'latest':
          list = await latestViews(l, limit);
          break;
        case 'index':
          result = recordView(await l.get(int(q.index ?? msg.payload, 'index')));
          break;
        case 'range':
          list = await collectViews(l.range(int(q.from, 'from', 0), int(q.to, 'to', l.size)), limit);
          break;
        case 'device': {
          const did = q.device ?? q.did;
          if (typeof did !== 'string') throw new LedgerError('ERR_INVALID_ARGUMENT', '"device" (a did:key) is required');
          list = await collectViews(l.byDevice(did, {}), limit);
          break;
        }
        case 'type': {
          if (typeof q.type !== 'string') throw new LedgerError('ERR_INVALID_ARGUMENT', '"type" is required');
          list = await collectViews(l.byType(q.type, {}), limit);
          break;
        }
        case 'time':
          // The limit goes to the ledger too: its merge by time then holds at most twice that.
          list = await collectViews(l.byTime(time(q.from, 'from', 0), time(q.to, 'to', Date.now()), { limit }), limit);
          break;
        case 'proof':
          result = await gw.proofBundle(int(q.index ?? msg.payload, 'index'));
          break;
        case 'block': {
          const block = q.height === undefined ? await l.latestBlock() : await l.block(int(q.height, 'height'));
          result = block ? blockView(block) : null;
          break;
        }
      }
      if (list) {
        msg.payload = list.records;
        // The byte bound (lib/ledger/query-views) cut the list: say so, as the record count cannot.
        if (list.truncated) msg.truncated = true;
        else delete msg.truncated;
        const key = list.truncated ? 'iot-ledger-query.status.truncated' : 'iot-ledger-query.status.records';
        this.status(status.ok(withShed(RED._(key, { mode, count: formatCount(list.records.length) }))));
      } else {
        msg.payload = result;
        this.status(status.ok(withShed(RED._('iot-ledger-query.status.ok', { mode }))));
      }
    };
  }
  RED.nodes.registerType('iot-ledger-query', Query);
};
