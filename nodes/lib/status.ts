import type { NodeStatus } from './red';

/** RED._ of the node's catalogue: a key under nodes/locales/<lang>/<node>.json and its substitutions. */
export type Translate = (key: string, substitutions?: Record<string, unknown>) => string;

const group = (n: number): string => n.toLocaleString('en-US').replace(/,/g, '\u202f');

export const status = {
  ok: (text: string): NodeStatus => ({ fill: 'green', shape: 'dot', text }),
  info: (text: string): NodeStatus => ({ fill: 'blue', shape: 'ring', text }),
  warn: (text: string): NodeStatus => ({ fill: 'yellow', shape: 'ring', text }),
  error: (text: string): NodeStatus => ({ fill: 'red', shape: 'dot', text }),
  waiting: (text: string): NodeStatus => ({ fill: 'grey', shape: 'ring', text }),
};

export { group as formatCount };
