import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { npmInstall, npmPack } from '../../demo/nodered/npm';
import { createUserDir, installIntoUserDir } from '../../demo/nodered/userdir';
import { projectRoot } from './paths';

/** Survives between test runs: installs of other Node-RED versions, keyed by major. */
export const e2eCacheDir = path.join(os.tmpdir(), 'iot-ledger-e2e-cache');

export interface ProjectPackage {
  name: string;
  version: string;
  'node-red': { version?: string; nodes: Record<string, string> };
}

export function projectPackage(): ProjectPackage {
  return JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as ProjectPackage;
}

const scratch = new Set<string>();

/** A scratch directory for this test process, removed when it exits. */
export function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iot-ledger-${prefix}-`));
  if (scratch.size === 0) {
    process.once('exit', () => {
      for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  scratch.add(dir);
  return dir;
}

let tarball: Promise<string> | undefined;

/** `npm pack` of the built project, made once per test run. Build (npm run build) before. */
export function packedTarball(): Promise<string> {
  if (!fs.existsSync(path.join(projectRoot, 'dist', 'lib', 'index.js'))) {
    return Promise.reject(new Error('dist/ is missing: run `npm run build` before the e2e tests'));
  }
  tarball ??= npmPack(projectRoot, scratchDir('pack'));
  return tarball;
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`, { cause: err }));
      else resolve(stdout.trim());
    });
  });
}

let installed: Promise<string> | undefined;

/**
 * The packed tarball installed by npm into a user directory, as the palette manager would,
 * once per test run; returns the installed package's directory. Runtimes link it into their
 * own user directories (linkIntoUserDir) instead of installing it again, which saves an npm
 * install, and the removal of thousands of files, per runtime.
 */
export function installedPack(): Promise<string> {
  installed ??= (async () => {
    const dir = createUserDir(scratchDir('installed'));
    await installIntoUserDir(dir, await packedTarball());
    return path.join(dir, 'node_modules', projectPackage().name);
  })();
  return installed;
}

const nodeBinaries = new Map<number, Promise<string>>();

/** Path of a Node.js `major` binary from the `node` package on npm (via npx), found once per run. */
export function nodeBinary(major: number): Promise<string> {
  let found = nodeBinaries.get(major);
  if (!found) {
    found = (async () => {
      const bin = await run('npx', ['-y', '-p', `node@${major}`, 'node', '-p', 'process.execPath'], 180_000);
      const version = await run(bin, ['-v'], 30_000);
      if (!version.startsWith(`v${major}.`)) throw new Error(`${bin} is ${version}, not Node ${major}`);
      return bin;
    })();
    nodeBinaries.set(major, found);
  }
  return found;
}

/**
 * A directory from which `node-red/red.js` of the given major resolves. Installed
 * once into e2eCacheDir (`npm install --prefix <dir> node-red@<major>`), then reused.
 */
export async function nodeRedInstall(major: number): Promise<string> {
  const dir = path.join(e2eCacheDir, `node-red-${major}`);
  if (installedMajor(dir) === major) return dir;
  // Install beside, then rename: an interrupted install never looks complete.
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await npmInstall(tmp, [`node-red@${major}`], 300_000);
  if (installedMajor(tmp) !== major) throw new Error(`npm installed no node-red ${major} into ${tmp}`);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (err) {
    // Another test run finished the same install first: use that one.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (installedMajor(dir) !== major) throw err;
  }
  return dir;
}

function installedMajor(dir: string): number | undefined {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'node-red', 'package.json'), 'utf8')) as {
      version: string;
    };
    return Number(pkg.version.split('.')[0]);
  } catch {
    return undefined;
  }
}

/**
 * The palette category a node set's editor file gives its node type (`category: "..."` in
 * its registerType; each node set of this package registers one type). Read from the built
 * file package.json names, with .html for .js.
 */
export function declaredCategory(setName: string): string | undefined {
  const js = projectPackage()['node-red'].nodes[setName];
  if (!js) throw new Error(`package.json node-red.nodes has no ${setName}`);
  const html = fs.readFileSync(path.join(projectRoot, js.replace(/\.js$/, '.html')), 'utf8');
  return /registerType\(\s*["'][^"']+["']\s*,\s*\{[\s\S]*?\bcategory:\s*["']([^"']+)["']/.exec(html)?.[1];
}
