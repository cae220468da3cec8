import {
  extractMetric,
  evaluate,
  formatEvent,
  formatSummary,
  initialState,
  parseTime,
  validateTerms,
  type ContractEvent,
  type ContractInput,
  type ContractState,
  type Terms,
} from '../contracts';
import { LedgerError } from '../errors';
import { parseArgs, stringFlag, UsageError } from './args';
import { readFileOrNull, type CliIo } from './io';
import { inputChunks, LineSplitter, MAX_LINE_BYTES, type LineRun } from './input-lines';
import * as fs from 'node:fs';

export const contractUsage = 'iot-ledger contract eval TERMS.json READINGS.jsonl|- [--until TIME] [--json]';

type CliEvent = ContractEvent & { line?: number };

/** Events that make `contract eval` exit 1 even when the final state is compliant. */
const FINDINGS = new Set<string>(['violation', 'data.gap', 'mkt.exceeded']);

function readText(file: string, what: string): string {
  const bytes = readFileOrNull(file);
  if (!bytes) throw new Error(`cannot read ${what} ${file}`);
  return bytes.toString('utf8');
}

/** A regular file's bytes in chunks, as readText would read it whole. */
async function* fileChunks(file: string, what: string): AsyncGenerator<Buffer> {
  let regular = false;
  try {
    regular = fs.statSync(file).isFile();
  } catch {
    // not there or not readable: said below
  }
  if (!regular) throw new Error(`cannot read ${what} ${file}`);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 128 * 1024 })) yield chunk as Buffer;
}

function loadTerms(file: string): Terms {
  let json: unknown;
  try {
    json = JSON.parse(readText(file, 'terms file'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new LedgerError('ERR_INVALID_TERMS', `${file} is not JSON: ${err.message}`);
    throw err;
  }
  return validateTerms(json);
}

/**
 * One JSONL line to an evaluator input: {"time"|"ts": ISO or ms, "value": n}, a full
 * payload holding the metric path, or {"kind": "tick", "time": ...}. A string is a
 * reason the line cannot be evaluated at all.
 */
export function lineToInput(line: string, terms: Terms): ContractInput | string {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return 'not a JSON object';
  const o = obj as Record<string, unknown>;
  const rawTime = o.time !== undefined ? o.time : o.ts;
  const time = parseTime(rawTime);
  if (time === undefined) return 'no valid "time" or "ts" (ISO-8601 with a zone, or ms)';
  if (o.kind === 'tick') return { kind: 'tick', time };
  const found = extractMetric(o, terms.metric);
  const value = found.ok || found.reason !== 'missing metric' ? o : 'value' in o ? o.value : o;
  return { kind: 'reading', time, value, ...(typeof o.device === 'string' ? { device: o.device } : {}) };
}

async function evalCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const [termsFile, readingsFile, ...extra] = args.positional;
  if (!termsFile || !readingsFile || extra.length > 0) throw new UsageError('contract eval needs TERMS.json and READINGS.jsonl');
  for (const f of Object.keys(args.flags))
    if (f !== 'json' && f !== 'until') throw new UsageError(`unknown option --${f}`);
  const untilArg = stringFlag(args, 'until');
  const until = untilArg === undefined ? undefined : parseTime(/^-?\d+(\.\d+)?$/.test(untilArg) ? Number(untilArg) : untilArg);
  if (untilArg !== undefined && until === undefined) throw new UsageError('--until must be an ISO-8601 time with a zone, or ms');
  const json = args.flags.json === true;

  const terms = loadTerms(termsFile);
  const chunks = readingsFile === '-' ? inputChunks(io) : fileChunks(readingsFile, 'readings file');

  let state: ContractState | undefined;
  let findings = false;
  const print = (e: CliEvent): void => {
    if (FINDINGS.has(e.type)) findings = true;
    if (json) io.stdout(`${JSON.stringify(e)}\n`);
    else io.stdout(`${formatEvent(e, terms.unit)}${e.line !== undefined ? ` (line ${e.line})` : ''}\n`);
  };
  const run = (input: ContractInput, line?: number): void => {
    const r = evaluate(terms, state, input);
    state = r.state;
    for (const e of r.events) print(line === undefined ? e : { ...e, line });
  };

  // Line by line as the input arrives: a readings file may be larger than memory, and a line
  // longer than MAX_LINE_BYTES (or input without line breaks, such as /dev/zero) ends the run.
  const lines = new LineSplitter(MAX_LINE_BYTES);
  const judge = (r: LineRun): void => {
    r.nos.forEach((no, k) => {
      const input = lineToInput(r.texts[k]!.trim(), terms);
      if (typeof input === 'string') print({ type: 'reading.rejected', time: state?.clock ?? null, reason: 'malformed input', detail: input, line: no });
      else run(input, no);
    });
    if (r.tooLong !== undefined)
      throw new LedgerError('ERR_PAYLOAD_TOO_LARGE', `line ${r.tooLong} of the readings is longer than ${MAX_LINE_BYTES} bytes`, { max: MAX_LINE_BYTES });
  };
  for await (const chunk of chunks) judge(lines.push(chunk));
  judge(lines.end());
  if (until !== undefined) run({ kind: 'tick', time: until });

  const final = state ?? initialState(terms);
  if (json) io.stdout(`${JSON.stringify({ state: final })}\n`);
  else io.stdout(`final: ${formatSummary(final, terms.unit)}\n`);
  return final.status === 'compliant' && !final.mktExceeded && !findings ? 0 : 1;
}

/** `iot-ledger contract <sub-command>`: only `eval` for now. */
export async function contract(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'eval') return evalCommand(rest, io);
  throw new UsageError(sub ? `unknown sub-command "${sub}"` : 'missing sub-command');
}
