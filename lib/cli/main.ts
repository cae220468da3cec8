import { isLedgerError } from '../errors';
import { printable } from '../encoding/printable';
import { UsageError } from './args';
import { processIo, type CliIo } from './io';
import type * as KeygenCmd from './keygen';
import type * as SignCmd from './sign';
import type * as CheckCmd from './check';
import type * as AppendCmd from './append';
import type * as ProveCmd from './prove';
import type * as VerifyProofCmd from './verify-proof';
import type * as VerifyEvidenceCmd from './verify-evidence';
import type * as ExportCmd from './export';
import type * as InfoCmd from './info';
import type * as MigrateCmd from './migrate';
import type * as ConvertCmd from './convert';
import type * as ContractCmd from './contract';
import type * as AuditCmd from './audit';
import type * as FirmwareCmd from './firmware';
import type * as WitnessCmd from './witness';
import type * as ReplicateCmd from './replicate';
import type * as TilesCmd from './tiles';

type Command = (argv: string[], io: CliIo) => Promise<number>;

interface Loaded {
  run: Command;
  usage: string;
}

// Each command's module is loaded when that command runs: a process loads only what its
// command needs (loading all of them took about 0.1 s of every CLI run).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous, lazy load of a sibling module
const load = <M>(file: string): M => require(file) as M;

/** A command whose module is required, and picked from, when the command runs. */
function lazy<M>(file: string, pick: (m: M) => Loaded): () => Loaded {
  return () => pick(load<M>(file));
}

const commands: Record<string, () => Loaded> = {
  keygen: lazy<typeof KeygenCmd>('./keygen', (m) => ({ run: m.keygen, usage: m.keygenUsage })),
  sign: lazy<typeof SignCmd>('./sign', (m) => ({ run: m.sign, usage: m.signUsage })),
  check: lazy<typeof CheckCmd>('./check', (m) => ({ run: m.check, usage: m.checkUsage })),
  append: lazy<typeof AppendCmd>('./append', (m) => ({ run: m.append, usage: m.appendUsage })),
  prove: lazy<typeof ProveCmd>('./prove', (m) => ({ run: m.prove, usage: m.proveUsage })),
  'verify-proof': lazy<typeof VerifyProofCmd>('./verify-proof', (m) => ({ run: m.verifyProof, usage: m.verifyProofUsage })),
  'verify-evidence': lazy<typeof VerifyEvidenceCmd>('./verify-evidence', (m) => ({ run: m.verifyEvidenceCommand, usage: m.verifyEvidenceUsage })),
  export: lazy<typeof ExportCmd>('./export', (m) => ({ run: m.exportRecords, usage: m.exportUsage })),
  info: lazy<typeof InfoCmd>('./info', (m) => ({ run: m.info, usage: m.infoUsage })),
  migrate: lazy<typeof MigrateCmd>('./migrate', (m) => ({ run: m.migrate, usage: m.migrateUsage })),
  convert: lazy<typeof ConvertCmd>('./convert', (m) => ({ run: m.convert, usage: m.convertUsage })),
  contract: lazy<typeof ContractCmd>('./contract', (m) => ({ run: m.contract, usage: m.contractUsage })),
  audit: lazy<typeof AuditCmd>('./audit', (m) => ({ run: m.audit, usage: m.auditUsage })),
  firmware: lazy<typeof FirmwareCmd>('./firmware', (m) => ({ run: m.firmware, usage: m.firmwareUsage })),
  witness: lazy<typeof WitnessCmd>('./witness', (m) => ({ run: m.witness, usage: m.witnessUsage })),
  replicate: lazy<typeof ReplicateCmd>('./replicate', (m) => ({ run: m.replicate, usage: m.replicateUsage })),
  tiles: lazy<typeof TilesCmd>('./tiles', (m) => ({ run: m.tiles, usage: m.tilesUsage })),
};

function usage(): string {
  return `usage:\n${Object.values(commands)
    .map((c) => `  ${c().usage}`)
    .join('\n')}\n`;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 invalid/findings, 2 usage or I/O error). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? 0 : 2;
  }
  const loader = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
  if (!loader) {
    io.stderr(`iot-ledger: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  const cmd = loader();
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    // A message may quote what a ledger, a file or an origin says (a ledger's name, say): shown with
    // its control and bidi characters escaped, as the reports are.
    const message = printable(err instanceof Error ? err.message : String(err));
    if (err instanceof UsageError) io.stderr(`iot-ledger ${name}: ${message}\nusage: ${cmd.usage}\n`);
    else if (isLedgerError(err)) io.stderr(`iot-ledger ${name}: ${message} (${err.code})\n`);
    else io.stderr(`iot-ledger ${name}: ${message}\n`);
    return 2;
  }
}
