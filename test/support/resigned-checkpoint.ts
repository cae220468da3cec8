import type { PrivateKey } from '../../lib/crypto/keys';
import { openCheckpoint, signCheckpoint } from '../../lib/note/checkpoint';
import type { TileFetch } from '../../lib/tiles/verify';

/** A checkpoint note of `name` re-signed with `key`, its extension lines replaced by `extensions` (none: as before the header line). */
export function resigned(note: string, extensions: string[], name: string, key: PrivateKey): string {
  return signCheckpoint({ ...openCheckpoint(note), extensions }, name, key);
}

/** `served` with its checkpoint re-signed by `resigned`; every other resource as served. */
export function withResignedCheckpoint(served: TileFetch, extensions: string[], name: string, key: PrivateKey): TileFetch {
  return async (p, o) => {
    const body = await served(p, o);
    return p === 'checkpoint' ? Buffer.from(resigned(Buffer.from(body).toString('utf8'), extensions, name, key)) : body;
  };
}
