// The C device library (devices/): built with make, driven through its test tool.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from './paths';

export const devicesDir = path.join(projectRoot, 'devices');
export const devicesBuild = path.join(devicesDir, 'build');

const built = new Set<string>();

/** `make -C devices <target>` once per test process (make itself skips what is up to date). */
export function makeDevices(target: string): void {
  if (built.has(target)) return;
  execFileSync('make', ['-s', '-C', devicesDir, target], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
  built.add(target);
}

/** Runs devices/build/iotl_tool with `args`; returns its standard output, trimmed. */
export function iotlTool(...args: string[]): string {
  makeDevices('all');
  return execFileSync(path.join(devicesBuild, 'iotl_tool'), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();
}

/** Like iotlTool, but returns the exit status and standard error instead of throwing. */
export function iotlToolStatus(...args: string[]): { status: number; stdout: string; stderr: string } {
  makeDevices('all');
  try {
    const stdout = execFileSync(path.join(devicesBuild, 'iotl_tool'), args, { encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, stdout: String(e.stdout), stderr: String(e.stderr) };
  }
}
