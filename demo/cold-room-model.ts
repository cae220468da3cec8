/**
 * A cold-room sensor as a pure function of time: normally about -22 °C with the
 * door closed; now and then the door opens for a few seconds, and now and then
 * the room warms above -20 °C for a while (an excursion). The random source is
 * injected, so a seeded run is reproducible.
 */

export type Phase = 'normal' | 'door-open' | 'excursion';

export interface Sample {
  /** °C, one decimal. */
  temperature: number;
  door: 'open' | 'closed';
  phase: Phase;
}

export interface ColdRoomModelOptions {
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  /** Mean temperature outside excursions, °C. Default -22.1. */
  baseTemperature?: number;
  /** The threshold an excursion stays above. Default -20. */
  limit?: number;
  /** How long the temperature stays above `limit`. Default 40 s. */
  excursionMs?: number;
  /** How long the door stays open. Default 6 s. */
  doorOpenMs?: number;
  /** Time from start to the first door opening. Default 20 s. */
  firstDoorOpenAfterMs?: number;
  /** Time from start to the first excursion. Default 60 s. */
  firstExcursionAfterMs?: number;
  /** Later events follow after a random gap in [min, max]. Default 4 to 8 min. */
  gapMs?: readonly [number, number];
}

interface Window {
  start: number;
  end: number;
}

export class ColdRoomModel {
  private readonly random: () => number;
  private readonly base: number;
  private readonly limit: number;
  private readonly excursionMs: number;
  private readonly doorOpenMs: number;
  private readonly gap: readonly [number, number];
  private excursion: Window;
  private door: Window;

  constructor(startTime: number, opts: ColdRoomModelOptions = {}) {
    this.random = opts.random ?? Math.random;
    this.base = opts.baseTemperature ?? -22.1;
    this.limit = opts.limit ?? -20;
    this.excursionMs = opts.excursionMs ?? 40_000;
    this.doorOpenMs = opts.doorOpenMs ?? 6_000;
    this.gap = opts.gapMs ?? [240_000, 480_000];
    if (!(this.base < this.limit - 1)) throw new RangeError('baseTemperature must be at least 1 °C below limit');
    const firstExcursion = startTime + (opts.firstExcursionAfterMs ?? 60_000);
    const firstDoor = startTime + (opts.firstDoorOpenAfterMs ?? 20_000);
    this.excursion = { start: firstExcursion, end: firstExcursion + this.excursionMs };
    this.door = { start: firstDoor, end: firstDoor + this.doorOpenMs };
  }

  /** The reading at `now`. Call with non-decreasing times. */
  sample(now: number): Sample {
    while (now >= this.excursion.end) this.excursion = this.next(this.excursion, this.excursionMs);
    while (now >= this.door.end) this.door = this.next(this.door, this.doorOpenMs);
    const doorOpen = now >= this.door.start;
    if (now >= this.excursion.start) {
      // A smooth bump that starts just above the limit, peaks 3 °C higher and
      // never dips to the limit while the window lasts.
      const x = (now - this.excursion.start) / this.excursionMs;
      const t = this.limit + 0.6 + 3 * Math.sin(Math.PI * x) + this.noise(0.2);
      return { temperature: round1(t), door: doorOpen ? 'open' : 'closed', phase: 'excursion' };
    }
    // Outside an excursion the reading stays at least 0.6 °C below the limit.
    const t = Math.min(this.base + (doorOpen ? 0.8 : 0) + this.noise(0.3), this.limit - 0.6);
    return { temperature: round1(t), door: doorOpen ? 'open' : 'closed', phase: doorOpen ? 'door-open' : 'normal' };
  }

  private next(prev: Window, length: number): Window {
    const [min, max] = this.gap;
    const start = prev.end + min + (max - min) * this.random();
    return { start, end: start + length };
  }

  /** Uniform noise in [-amplitude, amplitude). */
  private noise(amplitude: number): number {
    return (this.random() * 2 - 1) * amplitude;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** A small seeded generator (mulberry32) for reproducible simulations. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
