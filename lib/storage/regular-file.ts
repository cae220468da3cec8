// Files of a storage directory that whoever controls it may have replaced: a FIFO blocks a read
// (and an open for reading) forever, and a device such as /dev/zero never ends. They are opened
// without blocking and read only when they are regular files, up to the size they had then.
import * as fs from 'node:fs';

/** Thrown for a path that is not a regular file. */
export class NotRegularFile extends Error {
  constructor(file: string) {
    super(`${file} is not a regular file`);
  }
}

/** Opens `file` (read only, or read and write) without blocking on a FIFO; throws NotRegularFile (closing it) for anything else than a regular file. */
export function openRegular(file: string, write: boolean): { fd: number; size: number } {
  const fd = fs.openSync(file, (write ? fs.constants.O_RDWR : fs.constants.O_RDONLY) | fs.constants.O_NONBLOCK);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new NotRegularFile(file);
    return { fd, size: stat.size };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** The first `size` bytes of an open file (fewer if it is shorter by now). */
export function readOpen(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const n = fs.readSync(fd, buf, at, size - at, at);
    if (n === 0) break;
    at += n;
  }
  return at === size ? buf : buf.subarray(0, at);
}

/** At most `max` bytes of a regular file (NotRegularFile for anything else). */
export function readRegular(file: string, max: number): Buffer {
  const { fd, size } = openRegular(file, false);
  try {
    return readOpen(fd, Math.min(size, max));
  } finally {
    fs.closeSync(fd);
  }
}

/** Names in `dir` that are neither regular files nor directories once symbolic links are followed (FIFOs, devices, sockets). */
export function irregularFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() || entry.isDirectory()) continue;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(`${dir}/${entry.name}`);
    } catch {
      continue; // a dangling link: nothing to block on
    }
    if (!stat.isFile() && !stat.isDirectory()) out.push(entry.name);
  }
  return out;
}
