// Segment files of the file store: `0000000001.seg`, `0000000002.seg`... in one directory,
// each starting with the 8-byte header "IOTLSEG" 0x01, then frames (frame.ts). Only the last
// segment is ever appended to; a full one (past the rollover size) is left as it is.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { syncDir, writeFileDurably } from './sync-dir';

/** Marks a directory as a file-store ledger (LevelDB directories hold CURRENT instead). */
export const MARKER_FILE = 'IOT-LEDGER-FILES';
export const MARKER_TEXT = 'iot-ledger file storage 1\n';

export const SEGMENT_HEADER = Buffer.from('IOTLSEG\x01', 'latin1');
/** Default rollover size: a frame is never split, so a segment can exceed it by one frame. */
export const SEGMENT_BYTES = 64 * 1024 * 1024;

const NAME = /^(\d{10})\.seg$/;

export const segmentName = (id: number): string => `${String(id).padStart(10, '0')}.seg`;

export function isFileStore(dir: string): boolean {
  return fs.existsSync(path.join(dir, MARKER_FILE));
}

/** Segment ids present in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  const ids: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = NAME.exec(name);
    if (m) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b);
}

/** Creates segment `id` holding only its header, durably. Returns its descriptor (read/write). */
export function createSegment(dir: string, id: number): number {
  const fd = fs.openSync(path.join(dir, segmentName(id)), fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o644);
  try {
    fs.writeSync(fd, SEGMENT_HEADER, 0, SEGMENT_HEADER.length, 0);
    fs.fsyncSync(fd);
    syncDir(dir);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** Writes the marker of a new file store, durably: whole or not at all after a crash. */
export function writeMarker(dir: string): void {
  writeFileDurably(path.join(dir, MARKER_FILE), MARKER_TEXT, 0o644);
}
