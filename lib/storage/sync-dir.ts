// fsync of a directory: what makes a file created or renamed in it survive a power cut; and a
// file written so that a crash leaves the old content or the new, never a mix or nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a file so that after a crash it holds either the old or the new content, never a mix
 * (and a new file is there whole or not at all).
 */
export function writeFileDurably(file: string, content: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDir(path.dirname(file));
}
