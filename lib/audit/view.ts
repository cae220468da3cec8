// A private view of a ledger directory, for auditing one that cannot be written: a read-only
// directory or mount, or a full disk. LevelDB cannot open a database without writing (it
// takes a lock on LOCK, rotates its info LOG, and on open turns the write-ahead log into a
// table and writes a new MANIFEST and CURRENT). classic-level has no read-only mode, so the
// view is a temporary directory holding a symbolic link to each of the ledger's files (a copy
// where links are not allowed): LevelDB opens the view, its writes land in the temporary
// directory (a rename or delete replaces or drops a link, never the file behind it), and the
// ledger's own directory is only read.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Free space below which opening in place could fail half-way: log recovery writes a table and a MANIFEST. */
const MIN_FREE_BYTES = 8 * 1024 * 1024;

/** LevelDB's own lock and info log: the view gets fresh ones. */
const NOT_LINKED = new Set(['LOCK', 'LOG', 'LOG.old']);

/**
 * Why the directory cannot be opened in place, or undefined when it can: not writable (a
 * read-only mount, permissions) or too little free space for LevelDB's recovery writes.
 */
export function whyNotInPlace(dir: string): string | undefined {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EROFS' ? 'it is on a read-only file system' : 'it is not writable';
  }
  try {
    const s = fs.statfsSync(dir);
    let logs = 0;
    for (const name of fs.readdirSync(dir)) if (name.endsWith('.log')) logs += fs.statSync(path.join(dir, name)).size;
    const free = s.bavail * s.bsize;
    if (free < MIN_FREE_BYTES + 2 * logs) return `its disk is full (${free} bytes free)`;
  } catch {
    return undefined; // no statfs here: open in place and let LevelDB say
  }
  return undefined;
}

/** Errors of an in-place open that a view avoids. */
export function isWriteRefusal(message: string): boolean {
  return /Read-only file system|Permission denied|No space left on device|Disk quota exceeded|EROFS|EACCES|ENOSPC|EDQUOT/.test(message);
}

export interface View {
  dir: string;
  remove(): void;
}

/** Creates the view of `dir` in the system's temporary directory. Throws with the reason. */
export function createView(dir: string): View {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-audit-'));
  const remove = (): void => fs.rmSync(root, { recursive: true, force: true });
  try {
    const source = fs.realpathSync(dir);
    for (const e of fs.readdirSync(source, { withFileTypes: true })) {
      if (!e.isFile() || NOT_LINKED.has(e.name)) continue;
      const from = path.join(source, e.name);
      const to = path.join(root, e.name);
      try {
        fs.symlinkSync(from, to);
      } catch {
        fs.copyFileSync(from, to);
      }
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { dir: root, remove };
}
