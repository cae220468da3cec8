import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../crypto/keys';
import { loadOrCreateKeyFile } from '../crypto/keyfile';
import { Ledger, type Receipt } from '../ledger';
import { appendEncoded } from '../ledger/store';
import { onePositional, parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { inputChunks } from './input-lines';
import { LineEncoder, type EncodeAnswer } from './line-encoder';

export const appendUsage = 'iot-ledger append DIR --key GATEWAY_KEY_FILE [--name ORIGIN]   (JSON lines on stdin, each at most 1 MiB; a new ledger is named after DIR unless --name)';

/** The origin a new ledger gets without --name: its directory's name, made a valid ledger name. */
export function defaultLedgerName(dir: string): string {
  const base = path.basename(path.resolve(dir)).replace(/[\s+]+/gu, '-').slice(0, 255);
  return base === '' || base === '-' ? 'iot-ledger' : base;
}

function isNewLedger(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/** Bytes of input being encoded at most; more is read once the oldest chunk is answered. */
const MAX_BYTES_IN_FLIGHT = 2 << 20;
/** Batches of records waiting for their write at most. */
const MAX_WRITES_IN_FLIGHT = 4;

export interface AppendOptions {
  /** Bytes per chunk of a test's stdin (the process's stdin comes as it arrives). */
  chunkBytes?: number;
}

/**
 * Appends one record per JSON line of stdin and prints each receipt as a JSON line once
 * the record is durable. Lines go to the ledger in batches of what has been read (each
 * batch one appendMany, so one synced write or a share of one). A bad line stops the
 * input: the records before it stay, the error names the line, exit 2. Creates the ledger
 * (named --name, else after its directory, which it prints) and the key file (0600).
 */
export async function append(argv: string[], io: CliIo, opts: AppendOptions = {}): Promise<number> {
  const args = parseArgs(argv);
  const keyFile = stringFlag(args, 'key');
  let name = stringFlag(args, 'name');
  if (!keyFile) throw new UsageError(appendUsage);
  const dir = onePositional(args, appendUsage);
  if (name === undefined && isNewLedger(dir)) {
    name = defaultLedgerName(dir);
    io.stderr(`new ledger ${dir} named "${name}" (its checkpoint origin; --name to choose another)\n`);
  }
  const gatewayKey = loadOrCreateKeyFile(keyFile, () => generateKey('Ed25519'));
  if (gatewayKey.alg !== 'Ed25519') throw new UsageError(`the gateway key in ${keyFile} must be Ed25519`);
  /** Aborted at a stop (a bad line, a failed write, the encoder gone): the input is read no further, even from a pipe left open. */
  const stopInput = new AbortController();
  // Lines are parsed, checked and encoded on a second thread (started first: it loads while
  // the ledger opens); this one plans and writes them.
  const encoder = new LineEncoder(() => stopInput.abort());
  let ledger: Ledger;
  try {
    ledger = await Ledger.open(dir, { name, gatewayKey });
  } catch (err) {
    await encoder.close();
    throw err;
  }

  /** The chain that takes the encoder's answers in order, and its links not yet awaited by the reading loop. */
  let taken: Promise<void> = Promise.resolve();
  const untaken: Promise<void>[] = [];
  let bytesInFlight = 0;
  const writes: Promise<void>[] = [];
  let writeError = null as unknown;
  let lineError = null as string | null; // set by take(), which TypeScript does not follow
  let count = 0;
  const print = (receipts: Receipt[]): void => {
    if (receipts.length === 0) return;
    let out = '';
    // JSON.stringify(r) spelled out (numbers and a hex string, in the receipt's key order): a third of its cost.
    for (const r of receipts) out += `{"index":${r.index},"leafHash":"${r.leafHash}","time":${r.time},"block":${r.block}}\n`;
    io.stdout(out);
  };
  /** Appends the records of an encoded chunk (each batch one appendMany) and notes where the input stops. */
  const take = async ({ batches, stop }: EncodeAnswer): Promise<void> => {
    for (const batch of batches) {
      if (writeError) return;
      count += batch.ends.length;
      writes.push(
        appendEncoded(ledger, batch).then(print, (err: unknown) => {
          writeError ??= err;
          stopInput.abort();
        }),
      );
      while (writes.length > MAX_WRITES_IN_FLIGHT) await writes.shift();
    }
    if (stop !== undefined) {
      lineError ??= stop;
      stopInput.abort();
    }
  };
  try {
    for await (const chunk of inputChunks(io, opts.chunkBytes, stopInput.signal)) {
      const answer = encoder.push(chunk, Date.now(), ledger.maxRecordBytes);
      const bytes = chunk.length;
      bytesInFlight += bytes;
      // Each answer is taken as soon as it and those before it are in: what arrived is appended now.
      const link: Promise<void> = taken.then(async () => {
        await take(await answer);
        bytesInFlight -= bytes;
        // Links finish in order: a finished one leaves the list (unless the loop took it already),
        // which so holds the chunks in flight only, however long the input runs.
        if (untaken[0] === link) void untaken.shift();
      });
      taken = link;
      // A failed encoder is reported once, by the await that meets it; the input is read no further.
      taken.catch(() => stopInput.abort());
      untaken.push(taken);
      while (bytesInFlight >= MAX_BYTES_IN_FLIGHT) await untaken.shift();
      if (lineError || writeError) break;
    }
    // After a stop the encoder answers the chunks still in flight with no records.
    if (!lineError && !writeError) {
      const last = encoder.end(Date.now(), ledger.maxRecordBytes);
      taken = taken.then(async () => take(await last));
    }
    await taken;
    await Promise.all(writes);
  } finally {
    await ledger.close().catch((err: unknown) => {
      writeError ??= err;
    });
    await encoder.close();
  }
  if (writeError) throw writeError as Error;
  if (lineError) {
    io.stderr(`iot-ledger append: ${lineError}; the ${count} record(s) before it were appended\n`);
    return 2;
  }
  io.stderr(`appended ${count} record(s) to ${ledger.name}: size ${ledger.size}, ${ledger.height} block(s)\n`);
  return 0;
}
