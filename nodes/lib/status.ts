import type { NodeStatus } from './red';

const group = (n: number): string => n.toLocaleString('en-US').replace(/,/g, '\u202f');

export const status = {
  ok: (text: string): NodeStatus => ({ fill: 'green', shape: 'dot', text }),
  info: (text: string): NodeStatus => ({ fill: 'blue', shape: 'ring', text }),
  warn: (text: string): NodeStatus => ({ fill: 'yellow', shape: 'ring', text }),
  error: (text: string): NodeStatus => ({ fill: 'red', shape: 'dot', text }),
  waiting: (text: string): NodeStatus => ({ fill: 'grey', shape: 'ring', text }),
};

export { group as formatCount };
