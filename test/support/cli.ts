import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from './paths';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled `iot-ledger` command as a user would. */
export function runCli(args: string[], input?: string | Buffer, cwd = projectRoot, env?: Record<string, string | undefined>): CliResult {
  const r = spawnSync(process.execPath, [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), ...args], {
    cwd,
    input,
    encoding: 'utf8',
    timeout: 120000,
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
