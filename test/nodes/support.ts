import type { LocalServer } from '../support/local-server';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { projectRoot } from '../support/paths';

// node-red-node-test-helper has no type definitions; this is the part the tests use.
export interface TestHelper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  settings(s: Record<string, unknown>): Record<string, unknown>;
  startServer(done: () => void): void;
  stopServer(done: () => void): void;
  load(nodes: unknown[], flow: object[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
  request(): { get(url: string): SuperTest; post(url: string): SuperTest };
  _redNodes: { getFlows(): { flows: object[]; credentials?: unknown } };
}
export interface SuperTest {
  send(body: unknown): SuperTest;
  expect(status: number): Promise<{ body: unknown }>;
}
export interface TestNode {
  id: string;
  receive(msg: Record<string, unknown>): void;
  on(event: string, fn: (arg: never) => void): void;
  removeListener(event: string, fn: (arg: never) => void): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper = require('node-red-node-test-helper') as TestHelper;
helper.init(require.resolve('node-red'));

/**
 * RED._ as Node-RED gives it to a node set: keys looked up in the set's en-US catalogue
 * (dist/nodes/locales/en-US/<set>.json), __name__ substituted, the key itself when missing. The
 * test helper's own RED._ returns every key unchanged.
 */
export function catalogueTranslator(set: string): (key: string, args?: Record<string, unknown>) => string {
  const file = path.join(projectRoot, 'dist', 'nodes', 'locales', 'en-US', `${set}.json`);
  const catalogue = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  return (key, args = {}) => {
    let v: unknown = catalogue;
    for (const part of key.replace(/^[^:]*:/, '').split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v !== 'string') return key;
    return v.replace(/__([A-Za-z0-9_]+)__/g, (m, name: string) => (name in args ? String(args[name]) : m));
  };
}

type SetTranslator = (set: string) => (key: string, args?: Record<string, unknown>) => string;

/** Loads every compiled node of the pack (the helper needs the module functions), each with its set's RED._. */
export function packNodes(translator: SetTranslator = catalogueTranslator): unknown[] {
  const dir = path.join(projectRoot, 'dist', 'nodes');
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('iot-ledger-') && f.endsWith('.js'))
    .map((f) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const register = require(path.join(dir, f)) as (RED: object) => void;
      const _ = translator(f.slice(0, -'.js'.length));
      return (RED: object) => register(Object.create(RED, { _: { value: _ } }) as object);
    });
}

interface NodeRedI18n {
  init(settings: { lang?: string }): Promise<void>;
  registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
  _(key: string, args?: Record<string, unknown>): string;
  /** i18next itself. */
  i: { loadLanguages(langs: string[]): Promise<void> };
}

/**
 * RED._ as Node-RED builds it (@node-red/registry createNodeApi) over its own i18n
 * (@node-red/util), every catalogue of the pack registered as the runtime does ("<module>/<set>",
 * dir locales/, file <set>.json), looked up in `lang`. One i18n serves the process, maybe set up
 * by an earlier test, so the language goes with each lookup.
 */
export async function nodeRedTranslator(lang: string): Promise<SetTranslator> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { i18n } = require('@node-red/util') as { i18n: NodeRedI18n };
  await i18n.init({});
  const dir = path.join(projectRoot, 'dist', 'nodes', 'locales');
  const sets = fs.readdirSync(path.join(dir, 'en-US')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  for (const set of sets) await i18n.registerMessageCatalog(`node-red-contrib-iot-ledger/${set}`, dir, `${set}.json`);
  await i18n.i.loadLanguages([lang]);
  return (set) => (key, args = {}) => i18n._(key.includes(':') ? key : `node-red-contrib-iot-ledger/${set}:${key}`, { ...args, lng: lang });
}

export function tempUserDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-nodes-'));
}

// Node-RED calls every input listener of a node from one array; a listener removed while that
// array is being walked makes the next one miss the message, so removal waits a tick.
function listen<T>(node: TestNode, n: number, ms: number, what: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    let open = true;
    const stop = () => {
      open = false;
      clearTimeout(t);
      setImmediate(() => node.removeListener('input', onInput));
    };
    const onInput = (msg: never) => {
      if (!open) return;
      got.push(msg);
      if (got.length === n) {
        stop();
        resolve(got);
      }
    };
    const t = setTimeout(() => {
      stop();
      reject(new Error(`${what}: ${got.length}/${n} messages at ${node.id} within ${ms} ms`));
    }, ms);
    node.on('input', onInput);
  });
}

/** Resolves with the next message a node receives (fails after `ms`). */
export async function nextMessage<T = Record<string, unknown>>(node: TestNode, ms = 5000): Promise<T> {
  return (await listen<T>(node, 1, ms, 'no message'))[0];
}

/** Collects the next `n` messages a node receives. */
export function messages<T = Record<string, unknown>>(node: TestNode, n: number, ms = 8000): Promise<T[]> {
  return listen<T>(node, n, ms, 'missing messages');
}

export function ledgerNode(id = 'ledger', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, type: 'iot-ledger-config', ledgerName: 'test-room', blockRecords: 5, blockSeconds: 3600, ...extra };
}

const CONFIG_TYPES = new Set(['iot-ledger-config', 'iot-ledger-identity', 'iot-ledger-mqtt-broker']);

/** Puts the nodes of a test flow on one tab (Catch nodes only see their own tab). */
export function onTab(nodes: Record<string, unknown>[]): Record<string, unknown>[] {
  return [{ id: 'tab', type: 'tab', label: 'test' }, ...nodes.map((n) => (CONFIG_TYPES.has(String(n.type)) ? n : { x: 100, y: 100, ...n, z: 'tab' }))];
}

/** Starts the helper's runtime with a fresh user directory (returned); pair with stopTestRuntime. */
export function startTestRuntime(done: () => void): string {
  const userDir = tempUserDir();
  helper.settings({ userDir });
  helper.startServer(done);
  return userDir;
}

/** startTestRuntime, resolved with the user directory once the runtime has started. */
export function startedTestRuntime(): Promise<string> {
  return new Promise((resolve) => {
    const dir = startTestRuntime(() => resolve(dir));
  });
}

/**
 * helper.load with one more node module that keeps RED.httpNode, the node HTTP app the pack's
 * routes (tiles, witnesses) are mounted on, as a node module sees it: returns that app.
 */
export async function loadCapturingHttpNode(nodes: unknown[], flow: object[]): Promise<http.RequestListener> {
  let nodeApp: http.RequestListener | undefined;
  const capture = (RED: { httpNode: http.RequestListener }): void => void (nodeApp = RED.httpNode);
  await helper.load([...nodes, capture], flow);
  if (!nodeApp) throw new Error('the runtime gave the node modules no httpNode');
  return nodeApp;
}

export function stopTestRuntime(userDir: string, done: () => void): void {
  helper.stopServer(() => {
    fs.rmSync(userDir, { recursive: true, force: true });
    done();
  });
}

/** The end of a describe() that served its flow's HTTP: the server closed, the flow unloaded, the runtime stopped. */
export async function endServedTest(server: LocalServer | undefined, userDir: string): Promise<void> {
  await server?.close();
  await helper.unload();
  await new Promise<void>((resolve) => stopTestRuntime(userDir, resolve));
}

/**
 * The hooks of a describe() whose tests each load a flow: the helper's runtime on a fresh user
 * directory for the whole block, each test's flow unloaded after it. Returns the user directory
 * (once the block has started).
 */
export function useTestRuntime(): () => string {
  let userDir = '';
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());
  return () => userDir;
}

/** A node's editor defaults, as the shipped editor script (dist/nodes/<type>.html) registers them with the editor's RED. */
export type EditorDefaults = Record<string, { value: unknown; validate?: (this: object, v: unknown) => unknown }>;

export function editorDefaults(type: string): EditorDefaults {
  const html = fs.readFileSync(path.join(projectRoot, 'dist', 'nodes', `${type}.html`), 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (!script) throw new Error(`no editor script in ${type}.html`);
  let defaults: EditorDefaults = {};
  const RED = { nodes: { registerType: (_type: string, def: { defaults: EditorDefaults }) => (defaults = def.defaults) } };
  vm.runInNewContext(script, { RED, $: () => undefined });
  return defaults;
}
