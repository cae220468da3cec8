// The file store's cross-process lock. Node has no flock(), so the lock is a LOCK file created
// with O_EXCL holding "pid start-time": the process start time (field 22 of /proc/<pid>/stat,
// in clock ticks since boot) tells a live owner from a new process that reuses a dead one's
// pid. A lock whose pid is gone, or whose start time differs, or whose live owner holds no file of
// the directory (the LOCK of a copy), is stale and is taken over.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotRegularFile, readRegular } from './regular-file';

export const LOCK_FILE = 'LOCK';
/** More than a lock holds ("pid start-time" and a newline). */
const MAX_LOCK_BYTES = 256;

/** The lock file's text; one that is no regular file (a FIFO, a device) holds no lock: empty of an owner. */
function readLock(file: string): string {
  try {
    return readRegular(file, MAX_LOCK_BYTES).toString('latin1');
  } catch (err) {
    if (err instanceof NotRegularFile) return 'not a regular file';
    throw err;
  }
}

function isSymbolicLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The start time of process `pid` from /proc, or undefined where /proc is not readable. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) is in parentheses and may hold spaces: count from its end
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall: fields 3.. start at index 0
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Device and inode of each regular file in `dir`. */
function filesOf(dir: string): Set<string> {
  const out = new Set<string>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isFile()) continue;
    try {
      const s = fs.lstatSync(path.join(dir, e.name));
      out.add(`${s.dev}:${s.ino}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Whether process `pid` has none of the files of `dir` open, where /proc says so (false where its
 * open files cannot be listed: another user's process, no /proc). An owner holds them for as long
 * as it holds the lock (LOCK from its creation, the segments once opened), so a live owner that
 * holds none owns another directory: this LOCK was copied from it with the files (cp -r of a ledger
 * a gateway is writing), or planted naming a process that lives here.
 */
function holdsNothingIn(pid: number, dir: string): boolean {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const here = filesOf(dir);
  for (const fd of fds) {
    try {
      const s = fs.statSync(`/proc/${pid}/fd/${fd}`);
      if (here.has(`${s.dev}:${s.ino}`)) return false;
    } catch {
      // closed meanwhile, or not to be looked at
    }
  }
  return true;
}

/** Why the lock of `dir` held in `text` is stale, or undefined when its owner is alive. */
function staleBecause(text: string, dir: string): string | undefined {
  const m = /^(\d+) (\S+)\s*$/.exec(text);
  if (!m) return 'the lock file is unreadable';
  const pid = Number(m[1]);
  if (pid === process.pid) return undefined;
  if (!alive(pid)) return `process ${pid} is gone`;
  // A process writes '-' only where it cannot read its own start time (no /proc). Where this one
  // can, such a lock was not written on this machine: one copied with the directory, or planted in
  // it to keep a reader (the audit) out of a ledger for good, naming a pid that always lives here.
  if (m[2] === '-' && processStartTime(process.pid) !== undefined) return `the lock names no start time, which every process here writes (pid ${pid} is another machine's)`;
  const start = processStartTime(pid);
  if (start !== undefined && m[2] !== '-' && start !== m[2]) return `pid ${pid} now belongs to another process`;
  if (holdsNothingIn(pid, dir)) return `process ${pid} holds no file of this directory (the lock came with a copy of another one)`;
  return undefined;
}

export type LockResult = { ok: true; release: () => void; tookOver?: string } | { ok: false; owner: string };

/**
 * Takes the LOCK file of `dir`. Refused ({ok: false}) when a live process holds it (this
 * process included: the in-process registry decides about second opens before this).
 */
export function takeLock(dir: string): LockResult {
  const file = path.join(dir, LOCK_FILE);
  const mine = `${process.pid} ${processStartTime(process.pid) ?? '-'}\n`;
  let tookOver: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let text: string;
      try {
        text = readLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        // O_EXCL found a name that does not open: a symbolic link to nothing holds no lock (it
        // would otherwise refuse every open, the audit's too); else the lock was released meanwhile.
        if (!isSymbolicLink(file)) continue;
        text = 'a symbolic link to nothing';
      }
      // a lock being written right now is empty for an instant: only an owner that is gone is stale
      const why = text === '' ? undefined : staleBecause(text, dir);
      if (why === undefined || text === mine) return { ok: false, owner: text.trim() || 'a process starting up' };
      tookOver = why;
      try {
        fs.unlinkSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      continue;
    }
    try {
      fs.writeSync(fd, mine);
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    // Held open until released: another process sees in /proc that this one owns this directory's lock (holdsNothingIn).
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      try {
        if (readLock(file) === mine) fs.unlinkSync(file);
      } catch {
        /* already gone */
      } finally {
        fs.closeSync(fd);
      }
    };
    return { ok: true, release, tookOver };
  }
  return { ok: false, owner: 'another process (the lock changed hands while opening)' };
}
