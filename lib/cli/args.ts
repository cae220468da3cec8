/** A small argv parser: `--name value`, `--name=value`, boolean `--flag`, and positionals. */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | true>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], booleanFlags: readonly string[] = []): ParsedArgs {
  const out: ParsedArgs = { positional: [], flags: {} };
  // One iterator: a flag's value is taken from it, and '--' hands the rest to the positionals.
  const it = argv[Symbol.iterator]();
  for (const a of it) {
    if (a === '--') {
      out.positional.push(...it);
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) out.flags[name] = a.slice(eq + 1);
      else if (booleanFlags.includes(name)) out.flags[name] = true;
      else {
        const value = it.next();
        if (value.done) throw new UsageError(`--${name} needs a value`);
        out.flags[name] = value.value;
      }
    } else out.positional.push(a);
  }
  return out;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function intFlag(args: ParsedArgs, name: string): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

/** Pulls every `--name VALUE` / `--name=VALUE` out of argv (for repeatable options); returns the values and the rest. */
export function takeRepeated(argv: string[], name: string): { values: string[]; rest: string[] } {
  const values: string[] = [];
  const rest: string[] = [];
  const it = argv[Symbol.iterator]();
  for (const a of it) {
    if (a === '--') {
      rest.push(a, ...it);
      break;
    }
    if (a === `--${name}`) {
      const value = it.next();
      if (value.done) throw new UsageError(`--${name} needs a value`);
      values.push(value.value);
    } else if (a.startsWith(`--${name}=`)) values.push(a.slice(name.length + 3));
    else rest.push(a);
  }
  return { values, rest };
}

/** The only positional argument; anything else is a UsageError with `usage`. */
export function onePositional(args: ParsedArgs, usage: string): string {
  const [first, ...rest] = args.positional;
  if (first === undefined || rest.length > 0) throw new UsageError(usage);
  return first;
}

/** Exactly two positional arguments; anything else is a UsageError with `usage`. */
export function twoPositionals(args: ParsedArgs, usage: string): [string, string] {
  const [first, second, ...rest] = args.positional;
  if (first === undefined || second === undefined || rest.length > 0) throw new UsageError(usage);
  return [first, second];
}
