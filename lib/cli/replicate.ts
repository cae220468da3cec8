import { isLedgerError } from '../errors';
import { originRetainedCheck, Replicator, tileFetchFor, type ReplicaProgress } from '../replica';
import { parseArgs, stringFlag, twoPositionals, UsageError } from './args';
import type { CliIo } from './io';
import { counted } from '../counted';

export const replicateUsage = 'iot-ledger replicate URL DIR --key DID|VERIFIER_KEY [--follow] [--interval SECONDS] [--auth USER:PASSWORD]';

const FLAGS = new Set(['key', 'follow', 'interval', 'auth']);

function progressBar(io: CliIo): (p: ReplicaProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.size < p.target) return;
    last = now;
    const frac = p.target > 0 ? Math.min(1, p.size / p.target) : 1;
    const fill = Math.round(frac * 30);
    io.stderr(`\rreplicate [${'#'.repeat(fill)}${'.'.repeat(30 - fill)}] ${Math.floor(frac * 100)}% ${p.size}/${p.target} records, ${p.height} blocks\x1b[K`);
  };
}

/** Resolves after `ms`, or at once when `stop` fires. */
function pause(ms: number, stop: { signal: AbortSignal }): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      stop.signal.removeEventListener('abort', done);
      resolve();
    }
    stop.signal.addEventListener('abort', done);
  });
}

/**
 * One catch-up (or, with --follow, one every --interval seconds until SIGINT/SIGTERM).
 * Exit 0 done, 1 fork or rollback detected (evidence kept), 2 usage or I/O error, or (also
 * with --follow, which does not retry it) a block larger than the replica takes.
 */
export async function replicate(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['follow']);
  for (const name of Object.keys(args.flags)) if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
  const [url, dir] = twoPositionals(args, 'give the origin URL and the replica directory');
  const key = stringFlag(args, 'key');
  if (!key) throw new UsageError('--key (the origin gateway\'s did:key or verifier key) is required');
  const intervalText = stringFlag(args, 'interval') ?? '5';
  const interval = Number(intervalText);
  if (!Number.isFinite(interval) || interval <= 0 || interval > 86400) throw new UsageError('--interval must be a number of seconds in (0, 86400]');
  const auth = stringFlag(args, 'auth');
  const headers: Record<string, string> = auth ? { authorization: `Basic ${Buffer.from(auth, 'utf8').toString('base64')}` } : {};
  const bar = io.isTTY ? progressBar(io) : undefined;
  // http(s)://… tiles, or mqtt(s)://broker/<topic base> (--auth is then the broker login).
  const [user = '', ...pass] = (auth ?? '').split(':');
  const fetch = tileFetchFor(url, { headers, check: originRetainedCheck(key), ...(auth ? { username: user, password: pass.join(':') } : {}) });
  let replica: Replicator;
  try {
    replica = await Replicator.open(dir, { trustedKey: key, fetch, onProgress: bar });
  } catch (err) {
    await fetch.close();
    throw err;
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    do {
      try {
        const r = await replica.catchUp();
        if (bar) io.stderr('\r\x1b[K');
        io.stdout(`${new Date().toISOString()} replica ${dir}: ${counted(r.size, 'record')} in ${counted(r.height, 'block')}, origin at ${r.target}, fetched ${r.fetched}\n`);
      } catch (err) {
        if (bar) io.stderr('\r\x1b[K');
        if (isLedgerError(err, 'ERR_REPLICA_FORK') || isLedgerError(err, 'ERR_REPLICA_ROLLBACK')) {
          io.stderr(`iot-ledger replicate: ${err.message} (${err.code})\n`);
          return 1;
        }
        // A block past the limits is signed and will not change: following would download it to refuse it again.
        if (args.flags.follow !== true || isLedgerError(err, 'ERR_REPLICA_BLOCK_TOO_LARGE')) throw err;
        io.stderr(`iot-ledger replicate: ${err instanceof Error ? err.message : String(err)}${isLedgerError(err) ? ` (${err.code})` : ''}; retrying\n`);
      }
      if (args.flags.follow === true && !stop.signal.aborted) await pause(interval * 1000, stop);
    } while (args.flags.follow === true && !stop.signal.aborted);
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await replica.close();
    await fetch.close();
  }
}
