import { auditLedger, formatReport } from '../audit';
import { LedgerError } from '../errors';
import { Ledger } from '../ledger';
import { ANCHOR_FLAGS, anchorJson, anchorOptions, anchorUsage } from './anchor-flags';
import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import { readFileOrNull, type CliIo } from './io';

/** The chain code (ethers) loads only when --anchor is given. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const chain = (): typeof import('../anchor') => require('../anchor') as typeof import('../anchor');

export const auditUsage = `iot-ledger audit DIR [--key DID|VERIFIER_KEY] [--from CHECKPOINT_FILE] [--json] [--workers N] ${anchorUsage}`;

const FLAGS = new Set(['key', 'from', 'json', 'workers', ...ANCHOR_FLAGS]);

/** The starting checkpoint: a signed note file, or a JSON file (e.g. a proof bundle) with a `checkpoint` field. */
function readCheckpointFile(file: string): string {
  const bytes = readFileOrNull(file);
  if (!bytes) throw new LedgerError('ERR_NOT_FOUND', `cannot read checkpoint file ${file}`);
  const text = bytes.toString('utf8');
  if (text.trimStart().startsWith('{')) {
    try {
      const json = JSON.parse(text) as { checkpoint?: unknown };
      if (typeof json.checkpoint === 'string') return json.checkpoint;
    } catch {
      /* not JSON: a note */
    }
  }
  return text;
}

/** A progress bar on stderr, redrawn at most ten times a second. */
function progressBar(io: CliIo): { update: (done: number, total: number) => void; clear: () => void } {
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const frac = total > 0 ? done / total : 1;
      const width = 30;
      const fill = Math.round(frac * width);
      io.stderr(`\raudit [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${Math.floor(frac * 100)}% ${done}/${total} records`);
    },
    clear() {
      if (shown) io.stderr('\r\x1b[K');
    },
  };
}

/** Exit 0 clean, 1 findings, 2 usage or I/O error (thrown to main). */
export async function audit(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  for (const name of Object.keys(args.flags)) if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
  const [dir] = args.positional;
  if (!dir || args.positional.length > 1) throw new UsageError('give one ledger directory');
  const json = args.flags.json === true;
  const fromFile = stringFlag(args, 'from');
  const anchor = anchorOptions(args);
  const bar = io.isTTY && !json ? progressBar(io) : undefined;
  let report;
  try {
    report = await auditLedger(dir, {
      trustedKey: stringFlag(args, 'key'),
      from: fromFile === undefined ? undefined : readCheckpointFile(fromFile),
      workers: intFlag(args, 'workers'),
      onProgress: bar?.update,
    });
  } finally {
    bar?.clear();
  }
  if (!anchor) {
    io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.clean ? 0 : 1;
  }
  if (!json) io.stdout(formatReport(report));
  // The ledger against the chain: every anchor of its origin must be a prefix of it.
  const ledger = await Ledger.open(dir, { readOnly: true });
  let check;
  try {
    check = await chain().verifyLedgerAnchors(ledger, anchor);
  } finally {
    await ledger.close();
  }
  if (json) io.stdout(`${JSON.stringify({ ...report, clean: report.clean && check.clean, anchors: anchorJson(check) }, null, 2)}\n`);
  else io.stdout(chain().formatAnchorCheck(check, `chain ${check.chainId}, contract ${check.contract}`));
  return report.clean && check.clean ? 0 : 1;
}
