import * as fs from 'node:fs';
import { LedgerError } from '../errors';

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /**
   * Standard input, whole; with `max`, at most about `max` + 1 bytes of it (more than `max`
   * says the input is longer, and the rest is never read: /dev/zero or a pipe may never end).
   */
  stdin: (max?: number) => Promise<Buffer>;
  isTTY: boolean;
}

export const processIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: async (max?: number) => {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of process.stdin) {
      chunks.push(c as Buffer);
      total += (c as Buffer).length;
      if (max !== undefined && total > max) break; // leaving the loop stops reading
    }
    return Buffer.concat(chunks);
  },
  isTTY: Boolean(process.stderr.isTTY),
};

/**
 * Standard input up to `max` bytes, for a command that reads one envelope or payload from it;
 * longer input is refused unread past the bound (ERR_PAYLOAD_TOO_LARGE): /dev/zero or a pipe may
 * never end.
 */
export async function stdinUpTo(io: CliIo, max: number, what: string): Promise<Buffer> {
  const bytes = await io.stdin(max);
  if (bytes.length > max) throw new LedgerError('ERR_PAYLOAD_TOO_LARGE', `${what} on standard input is larger than ${max} bytes`, { max });
  return bytes;
}

export function readFileOrNull(file: string): Buffer | null {
  try {
    return fs.statSync(file).isFile() ? fs.readFileSync(file) : null;
  } catch {
    return null;
  }
}

/**
 * A file's first bytes, at most `max` + 1 of them: a result longer than `max` is a file larger
 * than the bound, whose rest is never read (a device such as /dev/zero or a FIFO may never end).
 * Throws what opening or reading throws (ENOENT, EISDIR, ...).
 */
export function readFileUpTo(file: string, max: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    for (let left = max + 1; left > 0; ) {
      const chunk = Buffer.allocUnsafe(Math.min(left, 1024 * 1024));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      left -= n;
    }
    return Buffer.concat(chunks);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * FILE, or standard input for '-', as readFileUpTo reads it (at most `max` + 1 bytes); undefined,
 * after saying on stderr that `command` cannot read it and why, when it cannot be read.
 */
export async function readInputUpTo(io: CliIo, command: string, file: string, max: number): Promise<Buffer | undefined> {
  try {
    return file === '-' ? await io.stdin(max) : readFileUpTo(file, max);
  } catch (err) {
    io.stderr(`iot-ledger ${command}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return undefined;
  }
}
