import { isLedgerError } from '../../lib/errors';
import type { CatchUpResult, ReplicaFollower } from '../../lib/replica';
import { until } from './until';

/**
 * Rounds of `follower` until one succeeds: one refused as a replay (ERR_REPLICA_ORIGIN, a stale or
 * replayed checkpoint) is tried again, until the gateway published its own checkpoint again; any
 * other error fails.
 */
export function roundAfterReplay(follower: ReplicaFollower): Promise<CatchUpResult> {
  return until(
    'a round of the replica that succeeds once the gateway published its checkpoint again',
    async () => {
      try {
        return await follower.catchUp();
      } catch (err) {
        if (isLedgerError(err, 'ERR_REPLICA_ORIGIN') && /stale or replayed/.test(err.message)) return false;
        throw err;
      }
    },
    { pollMs: 100 },
  );
}
