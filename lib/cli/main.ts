import { isLedgerError } from '../errors';
import { UsageError } from './args';
import { processIo, type CliIo } from './io';
import type * as KeygenCmd from './keygen';
import type * as SignCmd from './sign';
import type * as CheckCmd from './check';
import type * as AppendCmd from './append';
import type * as ProveCmd from './prove';
import type * as VerifyProofCmd from './verify-proof';
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

const commands: Record<string, () => Loaded> = {
  keygen: () => {
    const m = load<typeof KeygenCmd>('./keygen');
    return { run: m.keygen, usage: m.keygenUsage };
  },
  sign: () => {
    const m = load<typeof SignCmd>('./sign');
    return { run: m.sign, usage: m.signUsage };
  },
  check: () => {
    const m = load<typeof CheckCmd>('./check');
    return { run: m.check, usage: m.checkUsage };
  },
  append: () => {
    const m = load<typeof AppendCmd>('./append');
    return { run: m.append, usage: m.appendUsage };
  },
  prove: () => {
    const m = load<typeof ProveCmd>('./prove');
    return { run: m.prove, usage: m.proveUsage };
  },
  'verify-proof': () => {
    const m = load<typeof VerifyProofCmd>('./verify-proof');
    return { run: m.verifyProof, usage: m.verifyProofUsage };
  },
  export: () => {
    const m = load<typeof ExportCmd>('./export');
    return { run: m.exportRecords, usage: m.exportUsage };
  },
  info: () => {
    const m = load<typeof InfoCmd>('./info');
    return { run: m.info, usage: m.infoUsage };
  },
  migrate: () => {
    const m = load<typeof MigrateCmd>('./migrate');
    return { run: m.migrate, usage: m.migrateUsage };
  },
  convert: () => {
    const m = load<typeof ConvertCmd>('./convert');
    return { run: m.convert, usage: m.convertUsage };
  },
  contract: () => {
    const m = load<typeof ContractCmd>('./contract');
    return { run: m.contract, usage: m.contractUsage };
  },
  audit: () => {
    const m = load<typeof AuditCmd>('./audit');
    return { run: m.audit, usage: m.auditUsage };
  },
  firmware: () => {
    const m = load<typeof FirmwareCmd>('./firmware');
    return { run: m.firmware, usage: m.firmwareUsage };
  },
  witness: () => {
    const m = load<typeof WitnessCmd>('./witness');
    return { run: m.witness, usage: m.witnessUsage };
  },
  replicate: () => {
    const m = load<typeof ReplicateCmd>('./replicate');
    return { run: m.replicate, usage: m.replicateUsage };
  },
  tiles: () => {
    const m = load<typeof TilesCmd>('./tiles');
    return { run: m.tiles, usage: m.tilesUsage };
  },
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
    if (err instanceof UsageError) io.stderr(`iot-ledger ${name}: ${err.message}\nusage: ${cmd.usage}\n`);
    else if (isLedgerError(err)) io.stderr(`iot-ledger ${name}: ${err.message} (${err.code})\n`);
    else io.stderr(`iot-ledger ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
