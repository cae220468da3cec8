// Pushes the Ledger sidebar's state to the editors over RED.comms (as the debug node pushes its
// messages) whenever an open ledger records something, at most once per interval however many
// records arrive: a flood of readings costs one sidebar computation and one message a second.
import { onGatewayOpen, openGateways, type Gateway } from '../../lib/gateway';
import { replicaViews } from './replicas';
import { sidebarData } from '../../lib/gateway/sidebar-data';

/** The comms topic; the editor (nodes/editor/sidebar) subscribes to it. */
export const SIDEBAR_TOPIC = 'iot-ledger/sidebar';
export const PUSH_INTERVAL_MS = 1000;

export interface Comms {
  publish(topic: string, data: unknown, retain?: boolean): void;
}

/**
 * Runs `task` when asked, but never twice within `intervalMs` and never two at once: asks that
 * come in between are folded into one run at the end of the interval.
 */
export class Throttle {
  private last = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  request(): void {
    if (this.stopped) return;
    if (this.running || this.timer) {
      this.again = true;
      return;
    }
    const wait = this.last + this.intervalMs - Date.now();
    if (wait > 0) this.timer = setTimeout(() => this.fire(), wait);
    else this.fire();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.again = false;
    this.running = true;
    this.last = Date.now();
    this.task()
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        if (this.again) this.request();
      });
  }
}

/** Starts pushing; returns the function that stops it (a plugin is never unloaded; tests stop it). */
export function pushSidebar(comms: Comms, intervalMs = PUSH_INTERVAL_MS): () => void {
  const throttle = new Throttle(async () => {
    comms.publish(SIDEBAR_TOPIC, { ledgers: await sidebarData(await openGateways()), replicas: replicaViews() }, false);
  }, intervalMs);
  const changed = (): void => throttle.request();
  const followed = new Set<Gateway>();
  const unfollow = (gw: Gateway): void => {
    gw.off('record', changed);
    gw.off('block', changed);
    followed.delete(gw);
  };
  const stopOpen = onGatewayOpen((gw) => {
    if (followed.has(gw)) return;
    followed.add(gw);
    gw.on('record', changed);
    gw.on('block', changed);
    // A redeploy closes and reopens a ledger's gateway: forget the closed one.
    gw.once('close', () => {
      unfollow(gw);
      changed();
    });
    changed();
  });
  return () => {
    stopOpen();
    throttle.stop();
    for (const gw of [...followed]) unfollow(gw);
  };
}
