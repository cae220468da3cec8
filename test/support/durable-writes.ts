// Watches the file system calls the library makes, to tell which files it wrote so that a power
// cut leaves the old content or the new: written to another file, fsynced, renamed into place,
// then the directory fsynced.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Runs `fn`; `durable` holds the paths written durably meanwhile. */
export async function watchDurableWrites<T>(fn: () => Promise<T>): Promise<{ result: T; durable: Set<string> }> {
  // The module object itself, which the library's fs calls reach (an `import * as fs` is a read-only view).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const real = require('node:fs') as typeof fs;
  const { openSync, fsyncSync, renameSync } = real;
  const opened = new Map<number, string>();
  const synced = new Set<string>();
  const renamedFromSynced = new Set<string>();
  const durable = new Set<string>();
  real.openSync = (p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(p, ...rest);
    opened.set(fd, path.resolve(String(p)));
    return fd;
  };
  real.fsyncSync = (fd: number) => {
    fsyncSync(fd);
    const p = opened.get(fd) ?? '';
    synced.add(p);
    for (const file of renamedFromSynced) if (path.dirname(file) === p) durable.add(file);
  };
  real.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    renameSync(from, to);
    if (synced.has(path.resolve(String(from)))) renamedFromSynced.add(path.resolve(String(to)));
  };
  try {
    return { result: await fn(), durable };
  } finally {
    Object.assign(real, { openSync, fsyncSync, renameSync });
  }
}
