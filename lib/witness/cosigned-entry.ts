// How a stored `c` entry (docs/FORMAT.md "Storage") is read by everything that trusts it: the
// audit, the CLI's quorum summary and the proof bundles that carry a cosigned checkpoint.
import { fromUtf8 } from '../encoding/text';
import { splitNote } from '../note/note-open';

/** The longest `c` value read: a checkpoint note (at most 64 KiB) and up to 100 signature lines. */
const MAX_COSIGNED_BYTES = 128 * 1024;

/**
 * A `c` entry opened against its block's signed checkpoint: the note and its signature lines, or
 * why it is not that checkpoint followed by well-formed signature lines (the gateway stores
 * nothing else, so it was altered).
 */
export type CosignedEntry = { note: string; split: ReturnType<typeof splitNote> } | { problem: string };

export function openCosignedEntry(value: Uint8Array, checkpoint: string): CosignedEntry {
  if (value.length > MAX_COSIGNED_BYTES) return { problem: `the cosigned checkpoint is ${value.length} bytes, more than any checkpoint with its cosignatures (${MAX_COSIGNED_BYTES})` };
  let note: string;
  try {
    note = fromUtf8(value);
  } catch {
    return { problem: 'the cosigned checkpoint is not UTF-8 text' };
  }
  if (!note.startsWith(checkpoint)) return { problem: "the cosigned checkpoint is not the block's signed checkpoint followed by cosignatures" };
  try {
    return { note, split: splitNote(note) };
  } catch (err) {
    return { problem: `the cosignature lines after the block's checkpoint are malformed: ${(err as Error).message}` };
  }
}
