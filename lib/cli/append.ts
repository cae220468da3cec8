import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../crypto/keys';
import { isLedgerError } from '../errors';
import { loadOrCreateKeyFile } from '../crypto/keyfile';
import { checkRecordInput, Ledger, type Receipt } from '../ledger';
import { parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';
import { inputFromJson, stdinLines } from './ledger-view';

export const appendUsage = 'iot-ledger append DIR --key GATEWAY_KEY_FILE [--name ORIGIN]   (JSON lines on stdin; a new ledger is named after DIR unless --name)';

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

/** Appends waiting for their write at most; more lines are read once the oldest is durable. */
const MAX_IN_FLIGHT = 1024;

/**
 * Appends one record per JSON line of stdin and prints each receipt as a JSON line once
 * the record is durable. A bad line stops the input: the records before it stay, the
 * error names the line, exit 2. Creates the ledger (named --name, else after its directory,
 * which it prints) and the key file (0600).
 */
export async function append(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  const keyFile = stringFlag(args, 'key');
  let name = stringFlag(args, 'name');
  if (args.positional.length !== 1 || !keyFile) throw new UsageError(appendUsage);
  const [dir] = args.positional;
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
  const print = (r: Receipt): void => io.stdout(`${JSON.stringify(r)}\n`);
  try {
    let lineNo = 0;
    for await (const line of stdinLines(io)) {
      lineNo++;
      if (line.trim() === '') continue;
      try {
        const input = inputFromJson(line);
        checkRecordInput(input);
        inFlight.push(
          ledger.append(input).then(print, (err: unknown) => {
            writeError ??= err;
          }),
        );
        count++;
      } catch (err) {
        const code = isLedgerError(err) ? ` (${err.code})` : '';
        lineError = `line ${lineNo}: ${(err as Error).message}${code}`;
        break;
      }
      if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
      if (writeError) break;
    }
    await Promise.all(inFlight);
  } finally {
    await ledger.close().catch((err: unknown) => {
      writeError ??= err;
    });
  }
  if (lineError) {
    io.stderr(`iot-ledger append: ${lineError}; the ${count} record(s) before it were appended\n`);
    return 2;
  }
  if (writeError) throw writeError as Error;
  io.stderr(`appended ${count} record(s) to ${ledger.name}: size ${ledger.size}, ${ledger.height} block(s)\n`);
  return 0;
}
