// The slice of the Node-RED runtime API these nodes use, typed locally to keep the glue small.
import type { Request, Response, NextFunction } from './http';

export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: string;
  [key: string]: unknown;
}

export type SendFn = (msg: NodeMessage | (NodeMessage | NodeMessage[] | null)[] | null) => void;
export type DoneFn = (err?: Error) => void;

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface Node {
  id: string;
  type: string;
  name?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', fn: (msg: NodeMessage, send: SendFn, done: DoneFn) => void | Promise<void>): void;
  on(event: 'close', fn: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | (NodeMessage | NodeMessage[] | null)[] | null): void;
  status(s: NodeStatus | Record<string, never>): void;
  error(err: unknown, msg?: NodeMessage): void;
  warn(msg: unknown): void;
  log(msg: unknown): void;
  context(): { get(key: string): unknown; set(key: string, value: unknown): void };
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  [key: string]: unknown;
}

type Handler = (req: Request, res: Response, next?: NextFunction) => void;

export interface RED {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    registerType<T extends Node>(type: string, ctor: (this: T, def: NodeDef) => void, opts?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: Record<string, unknown> }): void;
    getNode(id: string): Node | null;
  };
  settings: { userDir?: string; [key: string]: unknown };
  httpAdmin: {
    get(path: string, ...handlers: Handler[]): void;
    post(path: string, ...handlers: Handler[]): void;
  };
  /** Node-RED's node HTTP server (Express); absent when httpNodeRoot is false. */
  httpNode?: { use(path: string, handler: (req: import('node:http').IncomingMessage & { path?: string; method?: string }, res: import('node:http').ServerResponse, next: () => void) => void): void };
  auth: { needsPermission(permission: string): Handler };
  /** A plain function (Node-RED binds its node set's namespace in a closure), safe to pass around. */
  _: (key: string, substitutions?: Record<string, unknown>) => string;
  log: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
  events: { on(event: string, fn: (...args: unknown[]) => void): void; removeListener(event: string, fn: (...args: unknown[]) => void): void };
}
