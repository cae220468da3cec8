// One open gateway per ledger directory, shared by every node that uses it and kept across
// redeploys: the last release closes it, and an acquire during that close waits and reopens.
import * as path from 'node:path';
import type { LedgerOptions } from '../ledger';
import { Gateway } from './gateway';

interface Slot {
  users: number;
  gateway: Promise<Gateway>;
  closing?: Promise<void>;
}

const slots = new Map<string, Slot>();
const openListeners = new Set<(gw: Gateway) => void>();

/**
 * Calls `fn` with every gateway this process opens from now on, and with those already open.
 * Returns the function that stops it. (The editor sidebar follows their records this way.)
 */
export function onGatewayOpen(fn: (gw: Gateway) => void): () => void {
  openListeners.add(fn);
  for (const slot of slots.values()) if (!slot.closing) slot.gateway.then(fn, () => undefined);
  return () => openListeners.delete(fn);
}

export async function acquireGateway(dir: string, opts: LedgerOptions): Promise<Gateway> {
  const key = path.resolve(dir);
  let slot = slots.get(key);
  while (slot?.closing) {
    await slot.closing;
    slot = slots.get(key);
  }
  if (!slot) {
    slot = { users: 0, gateway: Gateway.open(key, opts) };
    slots.set(key, slot);
    slot.gateway.then((gw) => {
      for (const fn of openListeners) fn(gw);
    }, () => undefined);
    slot.gateway.catch(() => {
      if (slots.get(key) === slot) slots.delete(key);
    });
  }
  slot.users++;
  return slot.gateway;
}

export async function releaseGateway(dir: string): Promise<void> {
  const key = path.resolve(dir);
  const slot = slots.get(key);
  if (!slot || slot.closing) return;
  slot.users--;
  if (slot.users > 0) return;
  slot.closing = slot.gateway
    .then((gw) => gw.close())
    .catch(() => undefined)
    .finally(() => {
      if (slots.get(key) === slot) slots.delete(key);
    });
  await slot.closing;
}

export function openGatewayCount(): number {
  return slots.size;
}

/** The gateways open in this process (for the editor sidebar). */
export async function openGateways(): Promise<Gateway[]> {
  const out: Gateway[] = [];
  for (const slot of slots.values()) {
    if (slot.closing) continue;
    try {
      out.push(await slot.gateway);
    } catch {
      /* failed to open: nothing to show */
    }
  }
  return out;
}
