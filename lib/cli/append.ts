import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../crypto/keys';
import { isLedgerError } from '../errors';
import { loadOrCreateKeyFile } from '../crypto/keyfile';
import { Ledger, type Receipt, type RecordInput } from '../ledger';
import { onePositional, parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { inputFromJson, MAX_LINE_BYTES, stdinLines } from './ledger-view';

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

/** Lines per appendMany at most; a batch is also sent when the input read so far is used up. */
const BATCH_LINES = 2048;
/** Batches waiting for their write at most; more lines are read once the oldest is durable. */
const MAX_IN_FLIGHT = 4;

/**
 * Lines parsed and not yet submitted: their requests, texts and line numbers, side by side.
 * Once submitted, only the texts and numbers stay until the write is durable (parsed requests
 * kept that long outlive the young generation: copying and marking them cost more than parsing
 * again the lines before a refused one).
 */
interface Batch {
  inputs: RecordInput[];
  texts: string[];
  nos: number[];
  size: number;
}

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
  const ledger = await Ledger.open(dir, { name, gatewayKey });

  const inFlight: Promise<void>[] = [];
  let writeError: unknown = null;
  let lineError: string | null = null;
  let count = 0;
  const lineFailure = (no: number, err: unknown): string => {
    const code = isLedgerError(err) ? ` (${err.code})` : '';
    return `line ${no}: ${(err as Error).message.replace(/^record \d+: /, '')}${code}`;
  };
  const print = (receipts: Receipt[]): void => {
    if (receipts.length === 0) return;
    let out = '';
    // JSON.stringify(r) spelled out (numbers and a hex string, in the receipt's key order): a third of its cost.
    for (const r of receipts) out += `{"index":${r.index},"leafHash":"${r.leafHash}","time":${r.time},"block":${r.block}}\n`;
    io.stdout(out);
  };
  /**
   * Submits a batch. A record the ledger refuses fails the whole appendMany before anything
   * is written: then the records before it are appended alone and its line is the error.
   */
  /** appendMany of the batch's requests, which the batch lets go of (not an async function: its frame would keep them). */
  const appendInputs = (batch: Batch): Promise<Receipt[]> => {
    const { inputs } = batch;
    batch.inputs = [];
    return ledger.appendMany(inputs);
  };
  const submit = async (batch: Batch): Promise<void> => {
    const n = batch.size;
    if (n === 0) return;
    if (lineError) {
      count -= n; // a line before this batch was refused: nothing after it is written
      return;
    }
    try {
      print(await appendInputs(batch));
    } catch (err) {
      const item = isLedgerError(err) ? (err.details?.item as number | undefined) : undefined;
      const no = item === undefined ? undefined : batch.nos[item];
      if (item === undefined || no === undefined || !isLedgerError(err) || err.code === 'ERR_LEDGER_IO') throw err;
      lineError ??= lineFailure(no, err);
      // Nothing was written: the lines before the refused one again, alone (they parsed before).
      print(await ledger.appendMany(batch.texts.slice(0, item).map((t) => inputFromJson(t))));
      count -= n - item;
    }
  };
  const send = async (batch: Batch): Promise<void> => {
    count += batch.size;
    inFlight.push(
      submit(batch).catch((err: unknown) => {
        writeError ??= err;
      }),
    );
    while (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
  };
  const empty = (): Batch => ({ inputs: [], texts: [], nos: [], size: 0 });
  try {
    let batch = empty();
    for await (const run of stdinLines(io, MAX_LINE_BYTES, opts.chunkBytes)) {
      const { nos, texts } = run;
      for (let i = 0; i < texts.length; i++) {
        const no = nos[i] as number;
        let input: RecordInput;
        try {
          input = inputFromJson(texts[i] as string);
        } catch (err) {
          // The lines before it are appended first (unless one of them is refused too).
          await send(batch);
          batch = empty();
          await Promise.all(inFlight);
          lineError ??= lineFailure(no, err);
          break;
        }
        batch.inputs.push(input);
        batch.texts.push(texts[i] as string);
        batch.nos.push(no);
        if (++batch.size >= BATCH_LINES) {
          await send(batch);
          batch = empty();
          if (lineError || writeError) break;
        }
      }
      if (!lineError && !writeError && run.tooLong !== undefined) {
        await send(batch);
        batch = empty();
        await Promise.all(inFlight);
        lineError ??= `line ${run.tooLong}: longer than ${MAX_LINE_BYTES} bytes (the limit of a line)`;
      }
      if (lineError || writeError) break;
      // What has arrived goes out now rather than waiting for more input.
      await send(batch);
      batch = empty();
    }
    if (!writeError) await send(batch);
    await Promise.all(inFlight);
  } finally {
    await ledger.close().catch((err: unknown) => {
      writeError ??= err;
    });
  }
  if (writeError) throw writeError as Error;
  if (lineError) {
    io.stderr(`iot-ledger append: ${lineError}; the ${count} record(s) before it were appended\n`);
    return 2;
  }
  io.stderr(`appended ${count} record(s) to ${ledger.name}: size ${ledger.size}, ${ledger.height} block(s)\n`);
  return 0;
}
