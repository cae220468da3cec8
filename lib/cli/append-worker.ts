// The thread that splits, parses, validates and encodes `iot-ledger append`'s input
// (line-encoder.ts): chunks of input in, encoded batches of records out, in order.
import { parentPort } from 'node:worker_threads';
import { isLedgerError } from '../errors';
import { encodeBatch, type EncodedBatch } from '../ledger/encoded-batch';
import { LineSplitter, MAX_LINE_BYTES, type LineRun } from './input-lines';
import { inputFromJson } from './json-input';
import type { EncodeAnswer, EncodeRequest } from './line-encoder';

/** Records per encoded batch at most: one appendMany each (the ledger writes at most 4096 records at once). */
const BATCH_LINES = 2048;

const lines = new LineSplitter(MAX_LINE_BYTES);
let stopped = false;

/** The run's lines encoded in batches, up to the first refused line or the line too long. */
function encodeRun(run: LineRun, now: number, maxBytes: number): EncodeAnswer {
  const batches: EncodedBatch[] = [];
  const { texts, nos } = run;
  for (let from = 0; from < texts.length; from += BATCH_LINES) {
    const n = Math.min(BATCH_LINES, texts.length - from);
    const { batch, refused } = encodeBatch(n, (i) => inputFromJson(texts[from + i] as string), now, maxBytes);
    if (batch.ends.length > 0) batches.push(batch);
    if (refused) {
      const { error } = refused;
      const code = isLedgerError(error) ? ` (${error.code})` : '';
      return { batches, stop: `line ${nos[from + refused.item]}: ${error instanceof Error ? error.message : String(error)}${code}` };
    }
  }
  if (run.tooLong !== undefined) return { batches, stop: `line ${run.tooLong}: longer than ${MAX_LINE_BYTES} bytes (the limit of a line)` };
  return { batches };
}

parentPort?.on('message', ({ chunk, now, maxBytes }: EncodeRequest) => {
  let answer: EncodeAnswer = { batches: [] };
  if (!stopped) {
    answer = encodeRun(chunk ? lines.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)) : lines.end(), now, maxBytes);
    stopped = answer.stop !== undefined;
  }
  parentPort?.postMessage(
    answer,
    answer.batches.map((b) => b.values),
  );
});
