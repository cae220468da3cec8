import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../crypto/keys';
import { isLedgerError } from '../errors';
import { loadOrCreateKeyFile } from '../crypto/keyfile';
import { Worker } from 'node:worker_threads';
import { Ledger, type Receipt } from '../ledger';
import type { EncodedRecords } from '../ledger/encoded';
import { LineEncoder, MAX_LINE_BYTES, type LineBatch, type LineMessage, type LineSettings } from './append-lines';
import { onePositional, parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { processIo } from './io';
import { stdinStream } from './ledger-view';

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

/** Records per batch (one appendEncoded) at most; a batch also ends with each chunk of input. */
const BATCH_LINES = 2048;
/** Records handed to the ledger and not yet durable, at most, before more input is read. */
const MAX_RECORDS_IN_FLIGHT = 16384;
/** Bytes of input handed to the worker and not yet encoded, at most, before more input is read. */
const MAX_BYTES_IN_WORKER = 1024 * 1024;
/** Input goes to the worker in pieces of about this size (whole lines), so that batches come back steadily. */
const PIECE_BYTES = 256 * 1024;

export interface AppendOptions {
  /** The worker thread's script (tests put a failing one in its place). */
  workerFile?: string;
  /** Bytes per chunk of a test's stdin (the process's stdin comes as it arrives). */
  chunkBytes?: number;
  /** false: every line goes through the worker (by default the first are encoded here while it starts). */
  inline?: boolean;
}

const WORKER_FILE = path.join(__dirname, 'append-worker.js');

/** The input in chunks as it arrives: the process's stdin streamed, a test's in pieces of chunkBytes. */
async function* inputChunks(io: CliIo, chunkBytes: number): AsyncGenerator<Buffer> {
  if (io === processIo) {
    for await (const chunk of stdinStream()) yield chunk as Buffer;
    return;
  }
  const all = await io.stdin();
  for (let at = 0; at < all.length; at += chunkBytes) yield all.subarray(at, at + chunkBytes);
}

/** The first `n` records of a batch of encoded ones (the buffer copied). */
function firstRecords(e: EncodedRecords, n: number): EncodedRecords {
  const end = n === 0 ? 0 : (e.ends[n - 1] as number);
  return { buffer: e.buffer.slice(0, end), ends: e.ends.slice(0, n) };
}

/**
 * Appends one record per JSON line of stdin and prints each receipt as a JSON line once
 * the record is durable. A worker thread parses, validates and encodes the lines (the
 * ledger's own validation, RecordPacker) in batches of what has been read; the main thread
 * appends each batch (appendEncoded: one synced write or a share of one). A bad line stops
 * the input: the records before it stay, the error names the line, exit 2. Creates the ledger
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
  // Started before the ledger opens: its modules load meanwhile.
  const worker = new Worker(opts.workerFile ?? WORKER_FILE);
  let ledger: Ledger;
  try {
    ledger = await Ledger.open(dir, { name, gatewayKey });
  } catch (err) {
    await worker.terminate();
    throw err;
  }

  const inFlight = new Set<Promise<void>>();
  /** A failure that is not a line's (the ledger's storage, the worker): the command fails with it. */
  let fatal: unknown = null;
  /** The first refused line (by number) and its message. */
  let refused: { no: number; text: string } | null = null;
  let count = 0;
  let bytesInWorker = 0;
  let chunksOut = 0;
  /** The size of each chunk handed to the worker and not done yet, oldest first. */
  const chunkSizes: number[] = [];
  let finished = false;
  let wake: (() => void) | null = null;
  const wakeUp = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const event = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  const stopped = (): boolean => fatal !== null || refused !== null;
  const refuse = (no: number, message: string, code?: string): void => {
    if (refused && refused.no <= no) return;
    refused = { no, text: `line ${no}: ${message.replace(/^record \d+: /, '')}${code ? ` (${code})` : ''}` };
    wakeUp();
  };
  const print = (receipts: Receipt[]): void => {
    if (receipts.length === 0) return;
    count += receipts.length;
    let out = '';
    // JSON.stringify(r) spelled out (numbers and a hex string, in the receipt's key order): a third of its cost.
    for (const r of receipts) out += `{"index":${r.index},"leafHash":"${r.leafHash}","time":${r.time},"block":${r.block}}\n`;
    io.stdout(out);
  };
  /**
   * Appends a batch. A record the ledger refuses fails the whole batch before anything is
   * written: then the records before it are appended alone and its line is the error.
   */
  const submit = async (batch: LineBatch): Promise<void> => {
    if (batch.encoded.ends.length === 0 || stopped()) return;
    try {
      print(await ledger.appendEncoded(batch.encoded));
    } catch (err) {
      const item = isLedgerError(err) ? (err.details?.item as number | undefined) : undefined;
      const no = item === undefined ? undefined : batch.nos[item];
      if (item === undefined || no === undefined || !isLedgerError(err) || err.code === 'ERR_LEDGER_IO') throw err;
      refuse(no, err.message, err.code);
      print(await ledger.appendEncoded(firstRecords(batch.encoded, item)));
    }
  };
  let recordsInFlight = 0;
  const track = (p: Promise<void>, records: number): void => {
    recordsInFlight += records;
    const tracked = p
      .catch((err: unknown) => {
        fatal ??= err;
      })
      .finally(() => {
        inFlight.delete(tracked);
        recordsInFlight -= records;
        wakeUp();
      });
    inFlight.add(tracked);
  };
  let workerReady = false;
  const onMessage = (m: LineMessage): void => {
    if (m.kind === 'ready') {
      workerReady = true;
      return;
    }
    if (m.kind === 'fatal') {
      fatal ??= new Error(m.message);
      return wakeUp();
    }
    if (m.chunkDone) {
      chunksOut--;
      bytesInWorker -= chunkSizes.shift() ?? 0;
    }
    // Submitted as they come, so in the lines' order (appendEncoded queues its write synchronously).
    if (m.encoded.ends.length > 0 && !stopped()) track(submit(m), m.encoded.ends.length);
    if (m.refusal) refuse(m.refusal.no, m.refusal.message, m.refusal.code);
    wakeUp();
  };
  worker.on('message', onMessage);
  worker.on('error', (err) => {
    fatal ??= new Error(`the append worker failed: ${err.message}`);
    wakeUp();
  });
  worker.on('exit', (code) => {
    if (!finished) fatal ??= new Error(`the append worker stopped (exit code ${code})`);
    wakeUp();
  });

  const settings: LineSettings = { maxBytes: ledger.maxRecordBytes, batchLines: BATCH_LINES, maxLineBytes: MAX_LINE_BYTES };
  // Until the worker has loaded its code, lines are encoded here, where the thread would only wait;
  // then the worker takes over from the next line on. Both encode with the same LineEncoder.
  let inline: LineEncoder | null = opts.inline === false ? null : new LineEncoder(settings);
  if (!inline) worker.postMessage({ settings });
  const handOver = (): void => {
    if (!inline || !workerReady) return;
    worker.postMessage({ settings: { ...settings, startNo: inline.lineCount } });
    inline = null;
  };
  /** Hands whole lines to the worker, in pieces of about PIECE_BYTES. */
  const post = (bytes: Buffer): void => {
    let at = 0;
    while (bytes.length - at > PIECE_BYTES) {
      const cut = bytes.indexOf(0x0a, at + PIECE_BYTES - 1);
      if (cut < 0 || cut === bytes.length - 1) break;
      postPiece(bytes.subarray(at, cut + 1));
      at = cut + 1;
    }
    postPiece(bytes.subarray(at));
  };
  const postPiece = (bytes: Buffer): void => {
    handOver();
    if (inline) {
      chunksOut++;
      chunkSizes.push(0);
      inline.lines(bytes, Date.now(), onMessage);
      return;
    }
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    chunksOut++;
    chunkSizes.push(bytes.length);
    bytesInWorker += bytes.length;
    worker.postMessage({ chunk: copy, now: Date.now() }, [copy]);
  };
  try {
    let rest: Buffer = Buffer.alloc(0);
    let overlong = false;
    for await (const chunk of inputChunks(io, opts.chunkBytes ?? 64 * 1024)) {
      if (stopped()) break;
      const end = chunk.lastIndexOf(0x0a);
      if (end < 0) {
        rest = rest.length === 0 ? Buffer.from(chunk) : Buffer.concat([rest, chunk]);
      } else {
        post(rest.length === 0 ? chunk.subarray(0, end + 1) : Buffer.concat([rest, chunk.subarray(0, end + 1)]));
        rest = Buffer.from(chunk.subarray(end + 1));
      }
      if (rest.length > MAX_LINE_BYTES) {
        // No line break within the limit: the worker names the line once it has counted the ones before.
        overlong = true;
        handOver();
        chunksOut++;
        chunkSizes.push(0);
        if (inline) inline.overlong(onMessage);
        else worker.postMessage({ overlong: true });
        break;
      }
      while (!stopped() && (bytesInWorker >= MAX_BYTES_IN_WORKER || recordsInFlight >= MAX_RECORDS_IN_FLIGHT)) await event();
    }
    if (!stopped() && !overlong && rest.length > 0) post(rest);
    while (!stopped() && chunksOut > 0) await event();
    while (inFlight.size > 0) await Promise.all(inFlight);
  } finally {
    finished = true;
    await worker.terminate();
    await ledger.close().catch((err: unknown) => {
      fatal ??= err;
    });
  }
  if (fatal) throw fatal as Error;
  if (refused) {
    io.stderr(`iot-ledger append: ${(refused as { text: string }).text}; the ${count} record(s) before it were appended\n`);
    return 2;
  }
  io.stderr(`appended ${count} record(s) to ${ledger.name}: size ${ledger.size}, ${ledger.height} block(s)\n`);
  return 0;
}
