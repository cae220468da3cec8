import * as fs from 'node:fs';
import * as path from 'node:path';

/** The project root (tests run from compiled files in dist/test). */
export const projectRoot = path.resolve(__dirname, '..', '..', '..');

/**
 * Public test vectors, copied into the repository with a provenance note per folder, and read
 * from the source tree (the build copies none of them into dist/).
 */
export const vectorsDir = path.join(projectRoot, 'test', 'vectors');

export function readVector<T = unknown>(...parts: string[]): T {
  return JSON.parse(fs.readFileSync(path.join(vectorsDir, ...parts), 'utf8')) as T;
}

/** Lists files under a vectors folder, recursively, relative to it. */
export function listVectors(...parts: string[]): string[] {
  const base = path.join(vectorsDir, ...parts);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json')) out.push(path.relative(base, p));
    }
  };
  walk(base);
  return out.sort();
}
