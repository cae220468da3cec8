import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { useEditorSession } from '../support/editor-session';
import { projectRoot } from '../support/paths';

// Each example, as a person gets it: listed under Import > Examples of a real editor, imported
// into it, and checked by the editor's own validation (types known, properties valid).

const examples = fs
  .readdirSync(path.join(projectRoot, 'examples'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();

/** Nodes the editor may flag until the user acts, as the example's comments say. */
const EXPECTED_INVALID: Record<string, string[]> = {
  // The Identity node has no key (and so no did:key) until "Generate key" is pressed.
  'device-signing': ['iot-ledger-identity', 'iot-ledger-sign'],
};

interface Imported {
  id: string;
  type: string;
  known: boolean;
  valid: boolean;
  errors: string[];
}

describe('e2e: the examples in the Node-RED editor', function () {
  this.timeout(120_000);
  const session = useEditorSession('examples-editor');

  async function openEditor(): Promise<Page> {
    const page = await session().browser.newPage();
    await page.goto(`${session().nr.url}/`);
    // The editor is ready once the palette knows the pack's node types and the first tab exists.
    await page.waitForFunction(
      () => {
        const RED = (globalThis as unknown as { RED?: { nodes?: { getType(t: string): unknown }; workspaces?: { active(): unknown } } }).RED;
        return !!RED?.nodes?.getType('iot-ledger-contract') && !!RED.workspaces?.active();
      },
      undefined,
      { timeout: 60_000 },
    );
    return page;
  }

  it('lists all of them under Import > Examples', async () => {
    const res = await fetch(`${session().nr.url}/library/examples/flows/node-red-contrib-iot-ledger/`);
    assert.equal(res.status, 200);
    const listed = ((await res.json()) as Array<{ fn?: string }>).map((e) => e.fn).sort();
    assert.deepEqual(listed, examples);
  });

  it('shares the Ledger and broker config nodes: a later import that replaces them leaves one of each, all valid', async () => {
    const page = await openEditor();
    try {
      const result = await page.evaluate(async (): Promise<{ conflicts: string[]; configs: string[]; invalid: string[] }> => {
        type EditorNode = { id: string; type: string; valid?: boolean; users?: unknown[] };
        const RED = (globalThis as unknown as {
          RED: {
            view: { importNodes(nodes: unknown[], opts?: Record<string, unknown>): void };
            nodes: { eachConfig(fn: (n: EditorNode) => void): void; eachNode(fn: (n: EditorNode) => void): void };
          };
        }).RED;
        const get = async (f: string) => (await (await fetch(`library/examples/flows/node-red-contrib-iot-ledger/${f}`)).json()) as Array<{ id: string }>;
        RED.view.importNodes(await get('cold-room'), { addFlow: true });
        const conflicts: string[] = [];
        for (const name of ['audit-and-proof', 'device-signing']) {
          const flow = await get(name);
          try {
            RED.view.importNodes(flow, { addFlow: true });
          } catch (err) {
            // What the editor's "already exist" dialog resolves when the person picks Replace.
            const e = err as { code?: string; importConfig?: { conflicted: Record<string, unknown> } };
            if (e.code !== 'import_conflict') throw err;
            const ids = Object.keys(e.importConfig?.conflicted ?? {});
            conflicts.push(...ids);
            RED.view.importNodes(flow, { addFlow: true, importMap: Object.fromEntries(ids.map((id) => [id, 'replace'])) });
          }
        }
        const configs: string[] = [];
        RED.nodes.eachConfig((n) => configs.push(`${n.type}:${n.users?.length ?? 0}`));
        const invalid: string[] = [];
        const check = (n: EditorNode) => {
          if (n.valid === false) invalid.push(n.type);
        };
        RED.nodes.eachNode(check);
        RED.nodes.eachConfig(check);
        return { conflicts, configs: configs.sort(), invalid: invalid.sort() };
      });
      assert.ok(result.conflicts.length >= 2, `conflicts ${result.conflicts.join(', ')}`);
      assert.deepEqual(
        result.configs.map((c) => c.split(':')[0]),
        ['iot-ledger-config', 'iot-ledger-identity', 'mqtt-broker'],
        result.configs.join(', '),
      );
      assert.deepEqual(result.invalid, EXPECTED_INVALID['device-signing'].slice().sort());
    } finally {
      await page.close();
    }
  });

  /** Imports `nodes` into the editor and gives each node's verdict from the editor's own validation. */
  async function validity(nodes: Array<Record<string, unknown>>): Promise<Record<string, { valid: boolean; errors: string[] }>> {
    const page = await openEditor();
    try {
      return await page.evaluate((flow) => {
        type EditorNode = { id: string; validationErrors?: string[] };
        const RED = (globalThis as unknown as {
          RED: {
            view: { importNodes(nodes: unknown[], opts?: Record<string, unknown>): void };
            nodes: { node(id: string): EditorNode | null };
            editor: { validateNode(node: EditorNode): boolean };
          };
        }).RED;
        RED.view.importNodes(flow, { generateIds: false, addFlow: false });
        return Object.fromEntries(
          flow
            .filter((n) => n.type !== 'tab')
            .map((n) => {
              const node = RED.nodes.node(String(n.id));
              return [String(n.id), { valid: node ? RED.editor.validateNode(node) : false, errors: node?.validationErrors ?? [] }];
            }),
        );
      }, nodes);
    } finally {
      await page.close();
    }
  }
  const verdicts = (result: Record<string, { valid: boolean }>): Record<string, boolean> => Object.fromEntries(Object.entries(result).map(([id, r]) => [id, r.valid]));
  const ledgerConfig = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'iot-ledger-config', ledgerName: 'coldroom', blockRecords: 1000, blockSeconds: 60, ...extra });

  it('flags a property its validator refuses, with the validator\'s message', async () => {
    // Node-RED takes a returned message as "invalid" only from a validator of two parameters; one of one parameter that returns a message counts as valid.
    const result = await validity([
      { id: 'v-tab', type: 'tab', label: 'validators' },
      ledgerConfig('v-ledger'),
      ledgerConfig('v-name', { ledgerName: '../etc' }),
      ledgerConfig('v-block', { blockRecords: 0 }),
      { id: 'v-audit', type: 'iot-ledger-audit', z: 'v-tab', ledger: 'v-ledger', mode: 'full', interval: 'soon', wires: [[]] },
      { id: 'v-contract', type: 'iot-ledger-contract', z: 'v-tab', ledger: 'v-ledger', terms: '{"id":', tickSeconds: 0, wires: [[], []] },
      { id: 'v-identity', type: 'iot-ledger-identity', alg: 'Ed25519', did: 'did:key:not-base58-0OIl' },
    ]);
    assert.deepEqual(verdicts(result), { 'v-ledger': true, 'v-name': false, 'v-block': false, 'v-audit': false, 'v-contract': false, 'v-identity': false }, JSON.stringify(result));
    assert.match(result['v-name'].errors.join(' '), /Ledger name: 1 to 128 characters/, JSON.stringify(result));
    assert.match(result['v-block'].errors.join(' '), /Block size: a whole number/, JSON.stringify(result));
    assert.match(result['v-audit'].errors.join(' '), /Repeat every: a whole number of minutes/, JSON.stringify(result));
    assert.match(result['v-identity'].errors.join(' '), /Device id: no key yet/, JSON.stringify(result));
    assert.match(result['v-contract'].errors.join(' '), /Check every: a whole number of seconds/, JSON.stringify(result));
  });

  it('refuses a user name or password in the Anchor node\'s JSON-RPC URL, in Tiles over MQTT and in the Replica\'s origin URL, which flows.json keeps in plain text', async () => {
    const anchor = (id: string, rpcUrl: string, extra: Record<string, unknown> = {}) => ({
      id, type: 'iot-ledger-anchor', z: 'u-tab', ledger: 'u-ledger', rpcUrl, chainId: '1', contract: `0x${'ab'.repeat(20)}`,
      everyBlocks: 0, everyMinutes: 60, confirmations: 12, maxFeeGwei: 50, maxPriorityGwei: 2, maxBumps: 3, bumpAfterSeconds: 180, pollSeconds: 15, wires: [[]], ...extra,
    });
    const result = await validity([
      { id: 'u-tab', type: 'tab', label: 'urls' },
      ledgerConfig('u-ledger', { tilesMqtt: 'mqtt://broker.example:1883/tiles' }),
      ledgerConfig('u-ledger-login', { tilesMqtt: 'mqtt://user:hunter2@broker.example:1883/tiles' }),
      anchor('u-plain', 'https://rpc.example.org'),
      anchor('u-env', '${ANCHOR_RPC_URL}'),
      anchor('u-login', 'https://user:hunter2@rpc.example.org'),
      anchor('u-empty', ''),
      anchor('u-secret', '', { credentials: { secretRpcUrl: 'https://rpc.example.org/v3/0123456789abcdef' } }),
      { id: 'u-replica', type: 'iot-ledger-replica', z: 'u-tab', url: 'https://gateway.example/iot-ledger/tiles/coldroom', key: 'did:key:z6MkwAQVBxtKwwNivZy75xm4JZy34Ue4WrFTvkYfkvEPHwj6', interval: 5, wires: [[]] },
      { id: 'u-replica-login', type: 'iot-ledger-replica', z: 'u-tab', url: 'https://user:hunter2@gateway.example/iot-ledger/tiles/coldroom', key: 'did:key:z6MkwAQVBxtKwwNivZy75xm4JZy34Ue4WrFTvkYfkvEPHwj6', interval: 5, wires: [[]] },
    ]);
    assert.deepEqual(
      verdicts(result),
      { 'u-ledger': true, 'u-ledger-login': false, 'u-plain': true, 'u-env': true, 'u-login': false, 'u-empty': false, 'u-secret': true, 'u-replica': true, 'u-replica-login': false },
      JSON.stringify(result),
    );
    assert.match(result['u-login'].errors.join(' '), /secret URL/, JSON.stringify(result));
    assert.match(result['u-ledger-login'].errors.join(' '), /broker login fields/, JSON.stringify(result));
    assert.match(result['u-replica-login'].errors.join(' '), /without a login/, JSON.stringify(result));
  });

  for (const name of examples) {
    it(`${name}: imports with every type known and every node valid${EXPECTED_INVALID[name] ? ' (but the documented ones)' : ''}`, async () => {
      const page = await openEditor();
      try {
        const imported = await page.evaluate(async (file: string): Promise<Imported[]> => {
          type EditorNode = { id: string; type: string; valid?: boolean; validationErrors?: string[] };
          const RED = (globalThis as unknown as {
            RED: {
              view: { importNodes(nodes: unknown[], opts?: Record<string, unknown>): void };
              nodes: { node(id: string): EditorNode | null; getType(t: string): unknown };
            };
          }).RED;
          const res = await fetch(`library/examples/flows/node-red-contrib-iot-ledger/${file}`);
          const flow = (await res.json()) as Array<{ id: string; type: string }>;
          RED.view.importNodes(flow, { generateIds: false, addFlow: true });
          return flow.map((n) => {
            const e = RED.nodes.node(n.id);
            return { id: n.id, type: n.type, known: !!RED.nodes.getType(n.type) || n.type === 'tab', valid: e ? e.valid !== false : n.type === 'tab', errors: e?.validationErrors ?? [] };
          });
        }, name);
        assert.ok(imported.length > 5);
        assert.deepEqual(imported.filter((n) => !n.known).map((n) => n.type), [], 'types the editor does not know');
        const invalid = imported.filter((n) => !n.valid);
        assert.deepEqual(
          invalid.map((n) => n.type).sort(),
          [...(EXPECTED_INVALID[name] ?? [])].sort(),
          `invalid: ${JSON.stringify(invalid)}`,
        );
      } finally {
        await page.close();
      }
    });
  }
});
