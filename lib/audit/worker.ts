// Worker thread entry: checks chunks sent by the pool (loads the compiled lib).
import { parentPort } from 'node:worker_threads';
import { checkChunk, type ChunkJob } from './chunk';

parentPort?.on('message', (job: ChunkJob) => {
  try {
    parentPort?.postMessage({ ok: true, result: checkChunk(job) });
  } catch (err) {
    parentPort?.postMessage({ ok: false, seq: job.seq, error: err instanceof Error ? err.message : String(err) });
  }
});
