// The contract series of the Ledger sidebar (GET /iot-ledger/sidebar/series), computed one at a
// time for the whole runtime. Each scans up to 30,000 records (about half a second of CPU on a
// ledger where the contract's readings are sparse), every open editor asks again at each sidebar
// push, and any editor user, read-only ones too, can ask in a loop: asks for a series the ledger
// has not grown since are answered from the last computation, and at most MAX_WAITING_SERIES
// others wait for their turn; more are refused.
import type { Gateway } from '../../lib/gateway';
import { contractSeries, seriesLimit, type ContractSeries } from '../../lib/gateway/sidebar-data';
import { LedgerError } from '../../lib/errors';

/** Series computations that wait for their turn (one runs at a time); more are refused with ERR_OVERLOADED. */
export const MAX_WAITING_SERIES = 8;
/** Series kept per ledger for asks that come again (anyone can ask for any terms hash and limit). */
const MAX_KEPT_SERIES = 8;

interface Computed {
  /** The ledger's size the series was computed at (or is being computed at). */
  size: number;
  series: Promise<ContractSeries | null>;
}

/** Per open gateway, the last series computed for each terms hash and limit. */
const computed = new WeakMap<Gateway, Map<string, Computed>>();
let running: Promise<unknown> = Promise.resolve();

/** Computations waiting for their turn or running. */
let waiting = 0;

/** contractSeries(gw, termsHash, limit), in turn; the same answer again while the ledger has not grown. */
export function sharedSeries(gw: Gateway, termsHash: string, limit: number): Promise<ContractSeries | null> {
  const max = seriesLimit(limit);
  const key = `${termsHash} ${max}`;
  const size = gw.ledger.size;
  let kept = computed.get(gw);
  const last = kept?.get(key);
  if (last && last.size === size) return last.series;
  if (waiting > MAX_WAITING_SERIES)
    return Promise.reject(new LedgerError('ERR_OVERLOADED', 'too many contract series asked for at once; retry later'));
  waiting++;
  const series = running.then(() => contractSeries(gw, termsHash, max)).finally(() => waiting--);
  running = series.catch(() => undefined);
  if (!kept) computed.set(gw, (kept = new Map<string, Computed>()));
  // Only the latest computation per key is kept; a failed one is not.
  const entry = { size, series };
  kept.delete(key);
  kept.set(key, entry);
  for (const old of kept.keys()) {
    if (kept.size <= MAX_KEPT_SERIES) break;
    kept.delete(old);
  }
  series.catch(() => {
    if (kept.get(key) === entry) kept.delete(key);
  });
  return series;
}
