// The CLI's witness options: `--witness VKEY` (repeatable) and `--quorum K` (default: all given).
import { quorumPolicy, type QuorumPolicy } from '../witness/quorum';
import { intFlag, parseArgs, takeRepeated, UsageError, type ParsedArgs } from './args';

export function parseWithWitnesses(argv: string[], booleanFlags: readonly string[] = []): { args: ParsedArgs; policy?: QuorumPolicy } {
  const { values, rest } = takeRepeated(argv, 'witness');
  const args = parseArgs(rest, booleanFlags);
  const quorum = intFlag(args, 'quorum');
  delete args.flags.quorum;
  if (values.length === 0) {
    if (quorum !== undefined && quorum > 0) throw new UsageError('--quorum needs --witness keys');
    return { args };
  }
  let policy: QuorumPolicy;
  try {
    policy = quorumPolicy(values, quorum ?? values.length);
  } catch (err) {
    throw new UsageError(`--witness/--quorum: ${(err as Error).message}`);
  }
  return { args, policy };
}
