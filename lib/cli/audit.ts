import { auditLedger, formatReport, type AuditReport } from '../audit';
import { isLedgerError, LedgerError } from '../errors';
import { Ledger } from '../ledger';
import { MAX_BUNDLE_BYTES } from '../ledger/bundle';
import { ANCHOR_FLAGS, anchorJson, anchorOptions, anchorUsage } from './anchor-flags';
import { intFlag, stringFlag, UsageError } from './args';
import { readFileUpTo, type CliIo } from './io';
import { checkQuorum } from '../witness/bundle';
import { openCosignedEntry } from '../witness/cosigned-entry';
import { cosignedEntriesNewestFirst } from '../witness/ledger-cosignatures';
import type { QuorumPolicy } from '../witness/quorum';
import { parseWithWitnesses } from './witness-policy';

/** The chain code (ethers) loads only when --anchor is given. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const chain = (): typeof import('../anchor') => require('../anchor') as typeof import('../anchor');

export const auditUsage = `iot-ledger audit DIR [--key DID|VERIFIER_KEY] [--from CHECKPOINT_FILE] [--witness WITNESS_KEY ... [--quorum K]] [--json] [--workers N] ${anchorUsage}`;

const FLAGS = new Set(['key', 'from', 'json', 'workers', ...ANCHOR_FLAGS]);

/**
 * The starting checkpoint: a signed note file, or a JSON file (e.g. a proof bundle) with a
 * `checkpoint` field, read up to the size of a bundle (a longer file, or one that never ends, is
 * ERR_PAYLOAD_TOO_LARGE, the rest unread).
 */
function readCheckpointFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileUpTo(file, MAX_BUNDLE_BYTES);
  } catch {
    throw new LedgerError('ERR_NOT_FOUND', `cannot read checkpoint file ${file}`);
  }
  if (bytes.length > MAX_BUNDLE_BYTES)
    throw new LedgerError('ERR_PAYLOAD_TOO_LARGE', `checkpoint file ${file} is larger than ${MAX_BUNDLE_BYTES} bytes, more than any bundle`, { max: MAX_BUNDLE_BYTES });
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

export interface WitnessedSummary {
  quorum: number;
  witnesses: number;
  /** The newest checkpoint stored in the ledger with a quorum of cosignatures. */
  cosigned: { height: number; size: number; cosigners: string[] } | null;
  /** Records after it, signed by the gateway alone. */
  unwitnessed: number;
}

/**
 * Damage the audit reports as findings: here it only means that what is damaged vouches for nothing.
 * Asked only after the audit has read the directory, so "no ledger" (ERR_NOT_FOUND) is its meta record gone.
 */
const isDamage = (err: unknown): boolean => isLedgerError(err, 'ERR_LEDGER_CORRUPT') || isLedgerError(err, 'ERR_NOT_FOUND');

/**
 * The ledger opened read-only after the audit, for what the audit does not tell (witnesses,
 * anchors); undefined, with the error, when damage the audit has reported keeps it from opening.
 */
async function openAfterAudit(dir: string): Promise<{ ledger?: Ledger; damage?: LedgerError }> {
  try {
    return { ledger: await Ledger.open(dir, { readOnly: true }) };
  } catch (err) {
    if (isDamage(err)) return { damage: err as LedgerError };
    throw err;
  }
}

/**
 * Finds the newest stored checkpoint that is the block's own checkpoint followed by well-formed
 * cosignature lines (openCosignedEntry, the audit's rule) and meets the quorum.
 * A block that cannot be read is passed over, and a ledger too damaged to open (its meta,
 * head or last block: no `ledger`) has none; `size` (the audit's) is then what is unwitnessed.
 */
async function witnessedSummary(ledger: Ledger | undefined, key: string, policy: QuorumPolicy, size: number): Promise<WitnessedSummary> {
  const summary = (cosigned: WitnessedSummary['cosigned'], unwitnessed: number): WitnessedSummary => ({ quorum: policy.quorum, witnesses: policy.witnesses.length, cosigned, unwitnessed });
  if (!ledger) return summary(null, size);
  let cosigned: WitnessedSummary['cosigned'] = null;
  for await (const [height, value] of cosignedEntriesNewestFirst(ledger.database)) {
    if (height >= ledger.height) continue;
    let block;
    try {
      block = await ledger.block(height);
    } catch (err) {
      if (isDamage(err)) continue;
      throw err;
    }
    // An entry the audit reports as altered vouches for nothing.
    const entry = openCosignedEntry(value, block.checkpoint);
    if ('problem' in entry) continue;
    try {
      const ok = checkQuorum(entry.note, key, policy);
      cosigned = { height, size: block.header.size, cosigners: ok.cosigners.map((c) => c.name) };
      break;
    } catch (err) {
      if (!isLedgerError(err)) throw err;
    }
  }
  return summary(cosigned, ledger.size - (cosigned?.size ?? 0));
}

function formatWitnessed(w: WitnessedSummary): string {
  if (!w.cosigned) return `witnesses: NO checkpoint of this ledger has ${w.quorum} of the ${w.witnesses} witness cosignatures required\n`;
  const tail = w.unwitnessed > 0 ? `; ${w.unwitnessed} later records are signed by the gateway alone (not witnessed yet)` : '';
  return `witnesses: block ${w.cosigned.height} (tree size ${w.cosigned.size}) is cosigned by ${w.cosigned.cosigners.join(', ')} (quorum ${w.quorum} of ${w.witnesses})${tail}\n`;
}

/**
 * Exit 0 clean, 1 findings (or, with --witness, no checkpoint with a quorum), 2 usage or I/O
 * error, or an anchor check that could not be made (ERR_ANCHOR_*, ERR_ANCHOR_TIMEOUT past
 * --anchor-timeout; thrown to main).
 */
export async function audit(argv: string[], io: CliIo): Promise<number> {
  const { args, policy } = parseWithWitnesses(argv, ['json']);
  for (const name of Object.keys(args.flags)) if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
  const [dir] = args.positional;
  if (!dir || args.positional.length > 1) throw new UsageError('give one ledger directory');
  const json = args.flags.json === true;
  const fromFile = stringFlag(args, 'from');
  const from = fromFile === undefined ? undefined : readCheckpointFile(fromFile);
  const key = stringFlag(args, 'key');
  if (policy) {
    if (!key) throw new UsageError('--witness needs --key (the gateway key the witnesses vouch for)');
    if (from !== undefined) {
      try {
        checkQuorum(from, key, policy);
      } catch (err) {
        if (!isLedgerError(err)) throw err;
        io.stderr(`iot-ledger audit: the starting checkpoint is refused: ${err.message} (${err.code})\n`);
        return 1;
      }
    }
  }
  const anchor = anchorOptions(args);
  const bar = io.isTTY && !json ? progressBar(io) : undefined;
  let report;
  try {
    report = await auditLedger(dir, {
      trustedKey: key,
      from,
      workers: intFlag(args, 'workers'),
      ...(policy ? { witnesses: policy.witnesses } : {}),
      onProgress: bar?.update,
    });
  } finally {
    bar?.clear();
  }
  // Opened once, for both the witnesses and the anchors.
  const { ledger, damage } = (policy && key) || anchor ? await openAfterAudit(dir) : {};
  try {
    const witnessed = policy && key ? await witnessedSummary(ledger, key, policy, report.size) : undefined;
    const text = json ? undefined : humanReport(report) + (witnessed ? formatWitnessed(witnessed) : '');
    const base = { ...report, ...(witnessed ? { witnessed } : {}) };
    const witnessOk = !witnessed || witnessed.cosigned !== null;
    if (!anchor) {
      io.stdout(json ? `${JSON.stringify(base, null, 2)}\n` : (text as string));
      return report.clean && witnessOk ? 0 : 1;
    }
    if (!json) io.stdout(text as string);
    // The ledger against the chain: every anchor of its origin must be a prefix of it.
    if (!ledger) {
      // Damage the audit has reported can keep the ledger from opening: the findings still count (exit 1), the anchors are not checked.
      if (report.clean) throw damage as LedgerError;
      const why = `the ledger does not open (${(damage as LedgerError).message})`;
      io.stdout(json ? `${JSON.stringify({ ...base, anchors: null, anchorsNotChecked: why }, null, 2)}\n` : `anchors: not checked: ${why}\n`);
      return 1;
    }
    const check = await chain().verifyLedgerAnchors(ledger, anchor);
    if (json) io.stdout(`${JSON.stringify({ ...base, clean: report.clean && check.clean, anchors: anchorJson(check) }, null, 2)}\n`);
    else io.stdout(chain().formatAnchorCheck(check, `chain ${check.chainId}, contract ${check.contract}`, check.elsewhere));
    return report.clean && witnessOk && check.clean ? 0 : 1;
  } finally {
    await ledger?.close();
  }
}
