// fsync of a directory: what makes a file created or renamed in it survive a power cut.
import * as fs from 'node:fs';

export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
