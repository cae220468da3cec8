import { auditLedger, formatReport, type AuditReport } from '../audit';
import { LedgerError } from '../errors';
import { intFlag, parseArgs, stringFlag, UsageError } from './args';
import { readFileOrNull, type CliIo } from './io';

export const auditUsage = 'iot-ledger audit DIR [--key DID|VERIFIER_KEY] [--from CHECKPOINT_FILE] [--json] [--workers N]';

const FLAGS = new Set(['key', 'from', 'json', 'workers']);

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

// What blocks.ts reports for each checkpoint when there is no key to check it with (no --key,
// and the ledger's meta, which names the gateway key, is damaged).
const NO_KEY = 'no trusted gateway key to verify the checkpoint with';

/**
 * The report for people: the "no trusted gateway key" of every checkpoint is said once, before
 * the findings, rather than as one finding per block drowning the first failure.
 */
function humanReport(report: AuditReport): string {
  const noKey = (f: AuditReport['findings'][number]): boolean => f.kind === 'checkpoint-signature' && f.detail === NO_KEY;
  const unchecked = report.findings.filter(noKey).length;
  if (unchecked === 0) return formatReport(report);
  const text = formatReport({ ...report, findings: report.findings.filter((f) => !noKey(f)) });
  const cut = text.indexOf('\n\n');
  const head = cut < 0 ? text : text.slice(0, cut + 1);
  const findings = cut < 0 ? '' : text.slice(cut + 1);
  const line = `no trusted gateway key: the ledger's meta does not give one and no --key was given, so ${unchecked} checkpoint signature${unchecked === 1 ? ' was' : 's were'} not checked (pass --key DID|VERIFIER_KEY)\n`;
  return `${head}${line}${findings}`;
}

/** Exit 0 clean, 1 findings, 2 usage or I/O error (thrown to main). */
export async function audit(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  for (const name of Object.keys(args.flags)) if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
  const [dir] = args.positional;
  if (!dir || args.positional.length > 1) throw new UsageError('give one ledger directory');
  const json = args.flags.json === true;
  const fromFile = stringFlag(args, 'from');
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
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : humanReport(report));
  return report.clean ? 0 : 1;
}
