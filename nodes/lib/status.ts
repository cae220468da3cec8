import type { NodeStatus } from './red';

/** RED._ of the node's catalogue: a key under nodes/locales/<lang>/<node>.json and its substitutions. */
export type Translate = (key: string, substitutions?: Record<string, unknown>) => string;

const group = (n: number): string => n.toLocaleString('en-US').replace(/,/g, '\u202f');

/** A busy node's status is drawn at most this often: a status per message costs the runtime an event and a text each, for a display nobody reads that fast. */
export const STATUS_EVERY_MS = 250;

export const status = {
  ok: (text: string): NodeStatus => ({ fill: 'green', shape: 'dot', text }),
  info: (text: string): NodeStatus => ({ fill: 'blue', shape: 'ring', text }),
  warn: (text: string): NodeStatus => ({ fill: 'yellow', shape: 'ring', text }),
  error: (text: string): NodeStatus => ({ fill: 'red', shape: 'dot', text }),
  waiting: (text: string): NodeStatus => ({ fill: 'grey', shape: 'ring', text }),
};

export { group as formatCount };
