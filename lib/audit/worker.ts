// Worker thread entry: checks chunks sent by the pool (loads the compiled lib). With a LevelDB
// location in workerData it opens the ledger too (shared with the thread that opened it,
// classic-level's `multithreading`) and reads the entries of the chunks that come without them.
import { parentPort, workerData } from 'node:worker_threads';
import { checkChunk, type ChunkEntries, type ChunkJob } from './chunk';
import { ChunkReader, READ_AHEAD_BYTES, type SeekableIterator } from './chunk-reader';
import { openLevelDb } from '../storage/level';

interface Opened {
  reader: ChunkReader;
  close(): Promise<void>;
}

async function open(location: string): Promise<Opened> {
  const db = await openLevelDb(location, location, false, `ledger ${location} is locked`, { multithreading: true });
  const reader = new ChunkReader((gte, lt) => db.iterator({ gte, lt, highWaterMarkBytes: READ_AHEAD_BYTES }) as unknown as SeekableIterator);
  return {
    reader,
    close: async () => {
      await reader.close();
      await db.close();
    },
  };
}

const location = (workerData as { location?: string } | undefined)?.location;
const opened: Promise<Opened> | undefined = location === undefined ? undefined : open(location);
opened?.catch(() => undefined); // reported with the first chunk that needs it
let tail: Promise<void> = Promise.resolve();
// Ready for chunks once the modules are loaded and the ledger is open (or failed to open: reported per chunk).
void (opened ?? Promise.resolve()).then(
  () => parentPort?.postMessage({ ready: true }),
  () => parentPort?.postMessage({ ready: true }),
);

parentPort?.on('message', (msg: ChunkJob | { close: true }) => {
  if ('close' in msg) {
    tail = tail.then(async () => {
      try {
        await (await opened)?.close();
      } catch {
        /* nothing left to read */
      }
      parentPort?.postMessage({ closed: true });
    });
    return;
  }
  const job = msg;
  // Start reading now, so that the reads overlap the check of the chunk before it.
  const entries: Promise<ChunkEntries> | undefined =
    job.records || !opened ? undefined : opened.then((o) => o.reader.read(job));
  entries?.catch(() => undefined); // reported in order below
  tail = tail.then(async () => {
    const fail = (err: unknown, read: boolean): void =>
      parentPort?.postMessage({ ok: false, seq: job.seq, read, error: err instanceof Error ? err.message : String(err) });
    let read: ChunkEntries | undefined;
    try {
      read = entries ? await entries : undefined;
    } catch (err) {
      return fail(err, true);
    }
    try {
      // One turn of the event loop first: a chunk that arrived meanwhile starts its reads before this
      // check holds the thread (its message would wait behind the check, and its reads after it).
      await new Promise((resolve) => setImmediate(resolve));
      parentPort?.postMessage({ ok: true, result: checkChunk(job, read) });
    } catch (err) {
      fail(err, false);
    }
  });
});
