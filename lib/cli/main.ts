import { isLedgerError } from '../errors';
import { append, appendUsage } from './append';
import { UsageError } from './args';
import { audit, auditUsage } from './audit';
import { check, checkUsage } from './check';
import { contract, contractUsage } from './contract';
import { convert, convertUsage } from './convert';
import { processIo, type CliIo } from './io';
import { exportRecords, exportUsage } from './export';
import { firmware, firmwareUsage } from './firmware';
import { info, infoUsage } from './info';
import { keygen, keygenUsage } from './keygen';
import { migrate, migrateUsage } from './migrate';
import { prove, proveUsage } from './prove';
import { sign, signUsage } from './sign';
import { replicate, replicateUsage } from './replicate';
import { tiles, tilesUsage } from './tiles';
import { verifyProof, verifyProofUsage } from './verify-proof';
import { witness, witnessUsage } from './witness';

type Command = (argv: string[], io: CliIo) => Promise<number>;

const commands: Record<string, { run: Command; usage: string }> = {
  keygen: { run: keygen, usage: keygenUsage },
  sign: { run: sign, usage: signUsage },
  check: { run: check, usage: checkUsage },
  append: { run: append, usage: appendUsage },
  prove: { run: prove, usage: proveUsage },
  'verify-proof': { run: verifyProof, usage: verifyProofUsage },
  export: { run: exportRecords, usage: exportUsage },
  info: { run: info, usage: infoUsage },
  migrate: { run: migrate, usage: migrateUsage },
  convert: { run: convert, usage: convertUsage },
  contract: { run: contract, usage: contractUsage },
  audit: { run: audit, usage: auditUsage },
  firmware: { run: firmware, usage: firmwareUsage },
  witness: { run: witness, usage: witnessUsage },
  replicate: { run: replicate, usage: replicateUsage },
  tiles: { run: tiles, usage: tilesUsage },
};

function usage(): string {
  return `usage:\n${Object.values(commands)
    .map((c) => `  ${c.usage}`)
    .join('\n')}\n`;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 invalid/findings, 2 usage or I/O error). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    io.stderr(`iot-ledger: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) io.stderr(`iot-ledger ${name}: ${err.message}\nusage: ${cmd.usage}\n`);
    else if (isLedgerError(err)) io.stderr(`iot-ledger ${name}: ${err.message} (${err.code})\n`);
    else io.stderr(`iot-ledger ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
