import { isLedgerError, LedgerError } from '../errors';
import type { QuorumPolicy } from '../witness/quorum';
import { CONSISTENCY_BUNDLE_FORMAT, verifyConsistencyBundle, verifyProofBundle } from '../ledger';
import { MAX_BUNDLE_BYTES } from '../ledger/bundle';
import { anchorJson, anchorOptions, anchorUsage } from './anchor-flags';
import { onePositional, stringFlag, UsageError } from './args';
import { parseWithWitnesses } from './witness-policy';
import { checkQuorum } from '../witness/bundle';
import { readInputUpTo, type CliIo } from './io';
import { jsonView } from '../ledger/view';
import type { AnchoredCheckpoint } from '../anchor/ledger-check';
import { isoTime } from '../encoding/iso-time';
import { printable } from '../encoding/printable';

/** The chain code (ethers) loads only when --anchor is given. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const chain = (): typeof import('../anchor') => require('../anchor') as typeof import('../anchor');

export const verifyProofUsage = `iot-ledger verify-proof FILE|- --key DID|VERIFIER_KEY [--witness WITNESS_KEY ...] [--quorum K] [--json] ${anchorUsage}`;

/** Offline check of a proof or consistency bundle: exit 0 valid, 1 invalid, 2 usage or I/O error, or an anchor check that could not be made (ERR_ANCHOR_*, ERR_ANCHOR_TIMEOUT past --anchor-timeout). */
export async function verifyProof(argv: string[], io: CliIo): Promise<number> {
  const { args, policy } = parseWithWitnesses(argv, ['json']);
  const key = stringFlag(args, 'key');
  if (!key) throw new UsageError(verifyProofUsage);
  const file = onePositional(args, verifyProofUsage);
  const json = args.flags.json === true;
  const anchor = anchorOptions(args);
  const bytes = await readInputUpTo(io, 'verify-proof', file, MAX_BUNDLE_BYTES);
  if (!bytes) return 2;
  const invalid = (reason: string, code: string): number => {
    io.stdout(json ? `${JSON.stringify({ valid: false, code, reason })}\n` : `invalid: ${printable(reason)} (${code})\n`);
    return 1;
  };
  // Refused as a bundle field over its bound is, without reading the rest of the file (or of stdin).
  if (bytes.length > MAX_BUNDLE_BYTES) return invalid(`${file} is larger than ${MAX_BUNDLE_BYTES} bytes, more than any bundle`, 'ERR_MALFORMED_PROOF');
  const text = bytes.toString('utf8');
  /** With --anchor: whether the chain holds the checkpoint (undefined without --anchor). */
  const anchorCheck = (checkpoint: string): Promise<AnchoredCheckpoint | undefined> => (anchor ? chain().checkAnchoredCheckpoint(checkpoint, anchor) : Promise.resolve(undefined));
  const notAnchored = (anchored: Extract<AnchoredCheckpoint, { ok: false }>): number => {
    io.stdout(json ? `${JSON.stringify({ valid: false, code: anchored.code, reason: anchored.reason, anchors: anchorJson(anchored) })}\n` : `invalid: ${printable(anchored.reason)} (${anchored.code})\n`);
    return 1;
  };
  const anchorLine = (anchored: AnchoredCheckpoint | undefined): string =>
    anchored?.latest ? `anchor: anchored at ${chain().anchoredAt(anchored.latest)}, tx ${anchored.latest.txHash} (chain ${anchored.chainId}, contract ${anchored.contract})\n` : '';
  let bundle: unknown;
  try {
    bundle = JSON.parse(text);
  } catch {
    return invalid(`${file} is not JSON`, 'ERR_MALFORMED_PROOF');
  }
  if ((bundle as { format?: unknown } | null)?.format === CONSISTENCY_BUNDLE_FORMAT) {
    let c;
    try {
      c = verifyConsistencyBundle(bundle, key.trim());
    } catch (err) {
      if (isLedgerError(err) && (err.code === 'ERR_MALFORMED_PROOF' || err.code === 'ERR_BAD_SIGNATURE')) return invalid(err.message, err.code);
      throw err;
    }
    const checkpoint2 = (bundle as { checkpoint2: string }).checkpoint2;
    const refused = policy ? quorumRefusal(checkpoint2, key.trim(), policy) : undefined;
    if (refused instanceof Error) return invalid(refused.message, refused.code);
    // With --anchor: the newer checkpoint must be one the chain holds (the older is a prefix of it).
    const anchored = await anchorCheck(checkpoint2);
    if (anchored && !anchored.ok) return notAnchored(anchored);
    if (json) io.stdout(`${JSON.stringify({ valid: true, origin: c.origin, size1: c.size1, size2: c.size2, ...(anchored ? { anchor: anchorJson(anchored.latest) } : {}) })}\n`);
    else io.stdout(`valid: ledger ${printable(c.origin)} at tree size ${c.size2} extends its checkpoint at tree size ${c.size1} (append-only)\n${anchorLine(anchored)}`);
    return 0;
  }
  let v;
  try {
    v = verifyProofBundle(bundle, key.trim());
  } catch (err) {
    if (isLedgerError(err) && (err.code === 'ERR_MALFORMED_PROOF' || err.code === 'ERR_BAD_SIGNATURE'))
      return invalid(err.message, err.code);
    throw err;
  }
  let cosigners: string[] | undefined;
  if (policy) {
    const checked = quorumRefusal((bundle as { checkpoint: string }).checkpoint, key.trim(), policy);
    if (checked instanceof Error) return invalid(checked.message, checked.code);
    cosigners = checked;
  }
  const r = v.record;
  // With --anchor: the bundle's checkpoint must be one the chain holds for this origin.
  const anchored = await anchorCheck((bundle as { checkpoint: string }).checkpoint);
  if (anchored && !anchored.ok) return notAnchored(anchored);
  const report = {
    valid: true,
    origin: v.checkpoint.origin,
    treeSize: v.checkpoint.size,
    index: v.index,
    type: r.type,
    device: r.device ?? null,
    time: isoTime(r.time),
    body: r.body === undefined ? null : jsonView(r.body),
    ...(cosigners ? { cosignedBy: cosigners, quorum: policy?.quorum } : {}),
    ...(anchored ? { anchor: anchorJson(anchored.latest) } : {}),
  };
  if (json) io.stdout(`${JSON.stringify(report)}\n`);
  else
    io.stdout(
      // What the ledger holds (a device's data above all) is shown with its bidi and line-separating characters escaped.
      `valid: record ${v.index} is in ledger ${printable(report.origin)} (checkpoint tree size ${report.treeSize})\n` +
        `index:  ${report.index}\ntype:   ${printable(report.type)}\ndevice: ${printable(report.device ?? '-')}\n` +
        `time:   ${report.time}\nbody:   ${printable(JSON.stringify(report.body))}\n` +
        (cosigners ? `cosigned by ${cosigners.length} of the ${policy?.witnesses.length} witnesses given (quorum ${policy?.quorum}): ${cosigners.join(', ')}\n` : '') +
        anchorLine(anchored),
    );
  return 0;
}

/** The cosigners of a checkpoint that meets the witness quorum, or why it does not. */
function quorumRefusal(note: string, key: string, policy: QuorumPolicy): string[] | LedgerError {
  try {
    return checkQuorum(note, key, policy).cosigners.map((c) => c.name);
  } catch (err) {
    if (isLedgerError(err) && ['ERR_WITNESS_QUORUM', 'ERR_BAD_SIGNATURE', 'ERR_MALFORMED_NOTE', 'ERR_MALFORMED_KEY'].includes(err.code))
      return new LedgerError(err.code, `witnesses: ${err.message}`);
    throw err;
  }
}
