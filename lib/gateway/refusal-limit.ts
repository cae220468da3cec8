// Bounds what device reports of refused firmware offers add to the ledger. Anyone who can
// publish on a device's offer topic can send it offers without end; a device that answers each
// refused one with a signed report (docs/DEVICE-SIGNING.md says not to) would otherwise have
// the gateway record one firmware.report per forged offer. Per device, a refusal of a given
// manifest digest is recorded once, and at most `perWindow` refusals are recorded per window;
// the others are counted in one aggregated `security` record per device and window
// (ERR_FIRMWARE_REFUSAL_LIMIT, lib/gateway/security-log.ts).
import { LedgerError } from '../errors';
import { positiveLimit } from '../guards/limits';
import { SecurityLog, type SecurityEntry } from './security-log';

export const FIRMWARE_REFUSAL_LIMIT = 'ERR_FIRMWARE_REFUSAL_LIMIT';
export const DEFAULT_REFUSALS_PER_WINDOW = 10;
export const DEFAULT_REFUSAL_WINDOW_MS = 3_600_000;
/** (device, digest) pairs remembered as recorded, least recently seen dropped first. */
export const DEFAULT_REFUSAL_DIGESTS = 4096;
/** Devices the aggregated events keep apart; past them one bucket (topic '*'). Reports reach this only from enrolled devices. */
export const MAX_REFUSAL_EVENT_KEYS = 4096;

export interface RefusalLimits {
  /** Refusal reports recorded per device and window at most (default 10). */
  refusalsPerWindow?: number;
  /** The window, ms (default one hour); also the interval of the aggregated security records. */
  refusalWindowMs?: number;
  /** (device, refused digest) pairs remembered as recorded (default 4096). */
  refusalDigests?: number;
}

/** Why a refusal report is not recorded: its digest was recorded for that device, or the device's window is full. */
export type RefusalVerdict = 'record' | 'repeated' | 'over-limit';

interface DeviceWindow {
  opened: number;
  recorded: number;
}

/** The longest window: the flush timer's interval, which Node caps at 2^31 - 1 ms (a longer one fires at once). */
export const MAX_REFUSAL_WINDOW_MS = 2 ** 31 - 1;

/** The limits with their defaults; throws ERR_INVALID_ARGUMENT for a value that is not a positive integer (or a window over MAX_REFUSAL_WINDOW_MS). */
export function resolveRefusalLimits(limits: RefusalLimits = {}): Required<RefusalLimits> {
  const refusalWindowMs = positiveLimit(limits.refusalWindowMs, DEFAULT_REFUSAL_WINDOW_MS, 'refusalWindowMs');
  if (refusalWindowMs > MAX_REFUSAL_WINDOW_MS) throw new LedgerError('ERR_INVALID_ARGUMENT', `refusalWindowMs must be at most ${MAX_REFUSAL_WINDOW_MS} (about 24.8 days), got ${refusalWindowMs}`);
  return {
    refusalsPerWindow: positiveLimit(limits.refusalsPerWindow, DEFAULT_REFUSALS_PER_WINDOW, 'refusalsPerWindow'),
    refusalWindowMs,
    refusalDigests: positiveLimit(limits.refusalDigests, DEFAULT_REFUSAL_DIGESTS, 'refusalDigests'),
  };
}

export class RefusalLimit {
  readonly perWindow: number;
  readonly windowMs: number;
  readonly maxDigests: number;
  /** Keys `${device} ${digest}` of recorded refusals, oldest (least recently seen) first. */
  readonly #digests = new Map<string, true>();
  /** Per device that had a refusal recorded in its current window: bounded by the enrolled devices. */
  readonly #windows = new Map<string, DeviceWindow>();
  readonly #events: SecurityLog;
  #lastTake = -Infinity;

  constructor(limits: RefusalLimits = {}) {
    const r = resolveRefusalLimits(limits);
    this.perWindow = r.refusalsPerWindow;
    this.windowMs = r.refusalWindowMs;
    this.maxDigests = r.refusalDigests;
    this.#events = new SecurityLog(this.windowMs, MAX_REFUSAL_EVENT_KEYS);
  }

  #window(device: string, now: number): DeviceWindow | undefined {
    const w = this.#windows.get(device);
    if (w && now - w.opened >= this.windowMs) {
      this.#windows.delete(device);
      return undefined;
    }
    return w;
  }

  /** Whether a refusal of `digest` by `device` may be recorded now (nothing is remembered until recorded()). */
  check(device: string, digest: string, now: number): RefusalVerdict {
    const key = `${device} ${digest}`;
    if (this.#digests.has(key)) {
      this.#digests.delete(key); // seen again: the most recent now
      this.#digests.set(key, true);
      return 'repeated';
    }
    const w = this.#window(device, now);
    return w && w.recorded >= this.perWindow ? 'over-limit' : 'record';
  }

  /** Notes a refusal written to the ledger (at `now`, or at its record time when read back on load). */
  recorded(device: string, digest: string, now: number): void {
    const key = `${device} ${digest}`;
    this.#digests.delete(key);
    this.#digests.set(key, true);
    while (this.#digests.size > this.maxDigests) this.#digests.delete(this.#digests.keys().next().value as string);
    const w = this.#window(device, now);
    if (w) w.recorded++;
    else this.#windows.set(device, { opened: now, recorded: 1 });
  }

  /**
   * Counts a refusal report not recorded. Returns the security entry to write now when it is
   * the device's first in the window; the others are added to its aggregate (take()).
   */
  note(device: string, detail: string, now: number): { entry?: SecurityEntry; due: SecurityEntry[] } {
    const due = now - this.#lastTake >= this.windowMs ? this.take(now) : [];
    const entry = this.#events.note(FIRMWARE_REFUSAL_LIMIT, detail, { device, source: 'firmware' }, now);
    return entry ? { entry, due } : { due };
  }

  /** The aggregates to write at the end of a window (or on close); forgets windows past their end. */
  take(now: number): SecurityEntry[] {
    this.#lastTake = now;
    for (const [device, w] of this.#windows) if (now - w.opened >= this.windowMs) this.#windows.delete(device);
    return this.#events.take(now);
  }

  /** Remembered state, for tests and status: digests, device windows, aggregation keys. */
  get size(): { digests: number; devices: number; events: number } {
    return { digests: this.#digests.size, devices: this.#windows.size, events: this.#events.keys };
  }
}
