import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './paths';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled `iot-ledger` command as a user would; `{ file }` redirects stdin from a file (`< file`). */
export function runCli(args: string[], input?: string | Buffer | { file: string }, cwd = projectRoot, env?: Record<string, string | undefined>): CliResult {
  const fd = input !== undefined && typeof input === 'object' && 'file' in input ? fs.openSync(input.file, 'r') : undefined;
  try {
    const r = spawnSync(process.execPath, [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), ...args], {
      cwd,
      ...(fd === undefined ? { input: input as string | Buffer | undefined } : { stdio: [fd, 'pipe', 'pipe'] }),
      encoding: 'utf8',
      timeout: 120000,
      ...(env ? { env: { ...process.env, ...env } } : {}),
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
