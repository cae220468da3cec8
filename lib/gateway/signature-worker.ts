// The signature pool's thread: verifies batches of [envelope, did:key] and answers in order.
import { parentPort } from 'node:worker_threads';
import { verifyEnvelope } from '../envelope/envelope';
import { isLedgerError } from '../errors';
import type { WorkerAnswer } from './signature-pool';

parentPort?.on('message', (jobs: [string | Uint8Array, string][]) => {
  const answers: WorkerAnswer[] = jobs.map(([data, did]) => {
    try {
      return { ok: true, v: verifyEnvelope(data, did) };
    } catch (err) {
      return isLedgerError(err)
        ? { ok: false, code: err.code, message: err.message }
        : { ok: false, code: 'ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) };
    }
  });
  parentPort?.postMessage(answers);
});
