// What a replica takes as the origin's checkpoint, head and meta when they come as the latest
// message on a topic anyone may publish on (Tiles over MQTT): a message that is not the trusted
// gateway's resource is passed over and the one held stays.
import { parseTrustedKey } from '../audit/trust';
import { decodeMeta, type Meta } from '../ledger/layout';
import { openCheckpoint } from '../note/checkpoint';
import { CHECKPOINT_PATH, HEAD_PATH, META_PATH } from '../tiles/path';
import type { RetainedCheck } from './mqtt';
import { gatewaySignature, parseOriginHead, trustedGateway, type CheckpointPolicy } from './replicate';

const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/**
 * The meta must name the trusted key (and the ledger of the meta held); the checkpoint must be
 * accepted by `policy` for the trusted key under the meta's ledger name (the note's own origin
 * while no meta is held); the head must be the format's head, of no fewer records than the
 * checkpoint held. A smaller checkpoint the gateway signed is taken: the Replicator tells a
 * rollback (a smaller tree that conflicts with the copy: evidence) from a replay (one that agrees).
 */
export function originRetainedCheck(trustedKey: string, policy: CheckpointPolicy = gatewaySignature): RetainedCheck {
  const metaOf = (b: Uint8Array | undefined): Meta | undefined =>
    b &&
    attempt(() => {
      const meta = decodeMeta(b);
      trustedGateway(trustedKey, meta);
      return meta;
    });
  const sizeOf = (b: Uint8Array | undefined): number => (b ? (attempt(() => openCheckpoint(utf8(b)).size) ?? 0) : 0);
  return (path, payload, held) => {
    if (path === META_PATH) {
      const meta = metaOf(payload);
      const before = metaOf(held(META_PATH));
      return meta !== undefined && (before === undefined || before.name === meta.name);
    }
    if (path === CHECKPOINT_PATH) {
      const note = utf8(payload);
      const cp = attempt(() => {
        const name = metaOf(held(META_PATH))?.name ?? openCheckpoint(note).origin;
        const gateway = parseTrustedKey(trustedKey, name);
        const opened = gateway.name === name ? policy(note, gateway) : undefined;
        return opened?.origin === name ? opened : undefined;
      });
      return cp !== undefined;
    }
    if (path === HEAD_PATH) {
      const size = attempt(() => parseOriginHead(payload).size);
      return typeof size === 'number' && Number.isSafeInteger(size) && size >= sizeOf(held(CHECKPOINT_PATH));
    }
    return true;
  };
}
