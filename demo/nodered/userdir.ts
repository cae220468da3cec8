import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { npmInstall } from './npm';

interface UserPackageJson {
  name?: string;
  version?: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * Makes a Node-RED user directory with a package.json. Without `dir`, a fresh
 * one under the OS temp directory.
 */
export function createUserDir(dir?: string): string {
  const userDir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-nr-'));
  fs.mkdirSync(userDir, { recursive: true });
  const pkgFile = path.join(userDir, 'package.json');
  if (!fs.existsSync(pkgFile)) {
    writeJson(pkgFile, { name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true });
  }
  return userDir;
}

/** Installs a package (path, tarball or name) into the user dir, as the palette manager would. */
export async function installIntoUserDir(userDir: string, spec: string): Promise<void> {
  createUserDir(userDir);
  await npmInstall(userDir, [spec]);
}

/**
 * Makes the package in `packageDir` visible to Node-RED without installing it:
 * a symlink `<userDir>/node_modules/<name>` -> packageDir and a `file:` dependency
 * in `<userDir>/package.json`. Node-RED then loads it like an installed module.
 * Returns the package name.
 */
export function linkIntoUserDir(userDir: string, packageDir: string): string {
  createUserDir(userDir);
  const name = readJson<UserPackageJson>(path.join(packageDir, 'package.json')).name;
  if (!name) throw new Error(`${packageDir}/package.json has no name`);
  const link = path.join(userDir, 'node_modules', name);
  const target = path.relative(path.dirname(link), packageDir) || '.';
  fs.mkdirSync(path.dirname(link), { recursive: true });
  let current: string | undefined;
  try {
    current = fs.readlinkSync(link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') {
      throw new Error(`${link} exists and is not a symlink; remove it to link ${packageDir}`, { cause: err });
    }
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (current !== target) {
    if (current !== undefined) fs.unlinkSync(link);
    fs.symlinkSync(target, link, 'dir');
  }
  const pkgFile = path.join(userDir, 'package.json');
  const pkg = readJson<UserPackageJson>(pkgFile);
  const spec = `file:${path.relative(userDir, packageDir) || '.'}`;
  if (pkg.dependencies?.[name] !== spec) {
    pkg.dependencies = { ...pkg.dependencies, [name]: spec };
    writeJson(pkgFile, pkg);
  }
  return name;
}

/**
 * Writes `flows` as the user dir's flow file unless that file exists.
 * Returns true when it wrote (a first start), false when flows were already there.
 */
export function seedFlows(userDir: string, flows: unknown[], flowFile = 'flows.json'): boolean {
  const file = path.join(userDir, flowFile);
  if (fs.existsSync(file)) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(flows, null, 4)}\n`, { flag: 'wx' });
  return true;
}

/** Reads a flow export (a JSON array of nodes), with a clear error when it is not one. */
export function readFlowFile(file: string): unknown[] {
  const flows = readJson<unknown>(file);
  if (!Array.isArray(flows)) throw new Error(`${file} is not a Node-RED flow export (expected a JSON array)`);
  return flows;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
