import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NpmResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs npm with `args` in `cwd`. Under an npm script it reuses the npm that
 * runs us (npm_execpath); otherwise the `npm` on PATH.
 */
export function runNpm(args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<NpmResult> {
  const viaScript = process.env.npm_execpath?.endsWith('.js') ? process.env.npm_execpath : undefined;
  const file = viaScript ? process.execPath : process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const argv = viaScript ? [viaScript, ...args] : [...args];
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: process.env },
      (err, stdout, stderr) => {
        if (err) {
          const tail = stderr.trim().split('\n').slice(-15).join('\n');
          reject(new Error(`npm ${args.join(' ')} failed in ${cwd}: ${err.message}\n${tail}`, { cause: err }));
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/**
 * `npm pack` of the package in `packageDir` into `destDir`; returns the tarball path.
 * Lifecycle scripts are skipped: pack what is built, do not rebuild under a running test.
 */
export async function npmPack(packageDir: string, destDir: string): Promise<string> {
  fs.mkdirSync(destDir, { recursive: true });
  const { stdout } = await runNpm(['pack', '--json', '--ignore-scripts', '--pack-destination', destDir], packageDir);
  const parsed = JSON.parse(stdout) as Array<{ filename: string }>;
  const name = parsed[0]?.filename;
  if (!name) throw new Error(`npm pack printed no file name: ${stdout.slice(0, 200)}`);
  // npm turns "@scope/name" into "scope-name-1.0.0.tgz".
  return path.join(destDir, name.replace(/^@/, '').replace(/\//g, '-'));
}

/** `npm install` of `specs` (names, paths or tarballs) into `prefix`/node_modules. */
export async function npmInstall(prefix: string, specs: readonly string[], timeoutMs?: number): Promise<void> {
  fs.mkdirSync(prefix, { recursive: true });
  await runNpm(['install', '--no-audit', '--no-fund', '--prefix', prefix, ...specs], prefix, timeoutMs);
}
