import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { validateTerms } from '../lib/contracts';
import { haTopics, missingOfflineMessages } from '../lib/ha';
import { enrolBody } from '../lib/registry/devices';
import { projectRoot } from './support/paths';

// The flows under examples/ appear in the editor under Import > Examples; these checks make
// sure each imports cleanly: one tab, wires and config references that resolve, no secrets.

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  [k: string]: unknown;
}

const examplesDir = path.join(projectRoot, 'examples');
const files = fs
  .readdirSync(examplesDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const raw = new Map(files.map((f) => [f, fs.readFileSync(path.join(examplesDir, f), 'utf8')]));
const parsed = new Map(files.map((f) => [f, JSON.parse(raw.get(f)!) as FlowNode[]]));

/** Node types registered by the pack's node modules (package.json node-red.nodes), found by loading them. */
function packTypes(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
  const types: string[] = [];
  // Whatever else a module touches at load time (admin routes, settings) gets a harmless stand-in.
  const anything: unknown = new Proxy(function () {}, { get: (_t, p) => (p === 'then' ? undefined : anything), apply: () => anything });
  const RED = new Proxy(
    {
      nodes: new Proxy({ registerType: (t: string) => types.push(t) }, { get: (t, p) => (p in t ? t[p as 'registerType'] : anything) }),
      settings: {},
      _: (k: string) => k,
    },
    { get: (t, p) => (p in t ? t[p as keyof typeof t] : anything) },
  );
  for (const file of Object.values(pkg['node-red'].nodes)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(projectRoot, file)) as ((red: unknown) => void) | { default: (red: unknown) => void };
    (typeof mod === 'function' ? mod : mod.default)(RED);
  }
  return types;
}

/** Config node types: those whose editor file says category "config" (Node-RED's own rule), plus core ones. */
function isConfigType(type: string): boolean {
  if (type === 'mqtt-broker' || type === 'tls-config') return true;
  const editor = path.join(projectRoot, 'nodes', 'editor', type.replace(/^iot-ledger-/, ''), 'index.ts');
  return fs.existsSync(editor) && /category:\s*["']config["']/.test(fs.readFileSync(editor, 'utf8'));
}

/** Every key in a JSON value, at any depth, with its path. */
function* keysOf(v: unknown, at = '$'): Generator<[string, string]> {
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) yield* keysOf(x, `${at}[${i}]`);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      yield [k, `${at}.${k}`];
      yield* keysOf(x, `${at}.${k}`);
    }
  }
}

/** Config references by property: the node type they must point at. */
const CONFIG_REFS: Record<string, string> = {
  ledger: 'iot-ledger-config',
  identity: 'iot-ledger-identity',
  broker: 'mqtt-broker',
  tls: 'tls-config',
};

describe('examples/', () => {
  it('holds the documented examples, each in the README', () => {
    assert.deepEqual(files, ['anchoring.json', 'audit-and-proof.json', 'cold-room.json', 'device-signing.json', 'firmware-updates.json', 'home-assistant.json', 'replica.json', 'witnesses.json']);
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    for (const f of files) assert.ok(readme.includes(`| \`${f.slice(0, -'.json'.length)}\` |`), `README's examples table lacks ${f}`);
  });

  it('sets the Last Will and Close message of the broker of every Home Assistant node to offline on its availability topic', () => {
    let checked = 0;
    for (const [file, nodes] of parsed) {
      for (const ha of nodes.filter((n) => n.type === 'iot-ledger-ha')) {
        const broker = nodes.find((n) => n.id === ha.broker && n.type === 'mqtt-broker');
        assert.ok(broker, `${file}: the HA node's broker`);
        // As Node-RED's mqtt-broker node keeps them (options.will, closeMessage) from the editor's fields.
        const message = (kind: 'will' | 'close') => ({ topic: broker[`${kind}Topic`], payload: broker[`${kind}Payload`], retain: broker[`${kind}Retain`] });
        assert.deepEqual(missingOfflineMessages(haTopics(ha.discoveryPrefix, ha.baseTopic, ha.statusTopic), message('will'), message('close')), [], file);
        checked++;
      }
    }
    assert.ok(checked >= 1, 'no example uses the Home Assistant node');
  });

  for (const file of files) {
    describe(file, () => {
      const nodes = parsed.get(file)!;
      const byId = new Map(nodes.map((n) => [n.id, n]));
      const tabs = nodes.filter((n) => n.type === 'tab');

      it('is a JSON array of nodes with unique ids on exactly one tab', () => {
        assert.ok(Array.isArray(nodes) && nodes.length > 0);
        for (const n of nodes) {
          assert.equal(typeof n.id, 'string', JSON.stringify(n).slice(0, 80));
          assert.equal(typeof n.type, 'string', n.id);
        }
        assert.equal(byId.size, nodes.length, 'duplicate ids');
        assert.equal(tabs.length, 1, 'one tab');
        assert.ok(typeof tabs[0].label === 'string' && tabs[0].label.length > 0);
      });

      it("puts every flow node on its tab (z) at a position of its own; config nodes are global or on the tab", () => {
        const tab = tabs[0].id;
        const seen = new Set<string>();
        for (const n of nodes) {
          if (n.type === 'tab') continue;
          if (isConfigType(n.type)) {
            assert.ok(n.z === undefined || n.z === tab, `${n.type} ${n.id}: z ${n.z}`);
            continue;
          }
          assert.equal(n.z, tab, `${n.type} ${n.id} is not on the tab`);
          assert.ok(Number.isFinite(n.x) && Number.isFinite(n.y), `${n.type} ${n.id} has no x/y`);
          const at = `${Number(n.x)},${Number(n.y)}`;
          assert.ok(!seen.has(at), `two nodes at ${at}`);
          seen.add(at);
        }
      });

      it('wires only to nodes that exist on the same tab', () => {
        for (const n of nodes) {
          for (const port of n.wires ?? []) {
            assert.ok(Array.isArray(port), `${n.id}: wires must be arrays of ids`);
            for (const target of port) {
              const t = byId.get(target);
              assert.ok(t, `${n.type} ${n.id} wires to missing ${target}`);
              assert.equal(t.z, n.z, `${n.id} -> ${target} crosses tabs`);
              assert.ok(!isConfigType(t.type) && t.type !== 'comment', `${n.id} wires into ${t.type}`);
            }
          }
        }
      });

      it('resolves every config reference and Catch scope', () => {
        for (const n of nodes) {
          for (const [prop, type] of Object.entries(CONFIG_REFS)) {
            const ref = n[prop];
            if (ref === undefined || ref === '' || n.type === type) continue;
            assert.equal(byId.get(typeof ref === 'string' ? ref : JSON.stringify(ref))?.type, type, `${n.type} ${n.id}: ${prop} -> ${JSON.stringify(ref)}`);
          }
          // Sign runs on devices and Witness on another party's machine: neither keeps a ledger. A
          // Replica has its own directory and no gateway key: it names no Ledger config either.
          if (n.type.startsWith('iot-ledger-') && !isConfigType(n.type) && !['iot-ledger-sign', 'iot-ledger-witness', 'iot-ledger-replica'].includes(n.type)) {
            assert.ok(n.ledger, `${n.type} ${n.id} names no Ledger config`);
          }
          if (n.type === 'iot-ledger-sign') assert.ok(n.identity, `sign ${n.id} names no Identity`);
          if (n.type === 'catch' && Array.isArray(n.scope)) {
            for (const s of n.scope as string[]) assert.equal(byId.get(s)?.z, n.z, `catch ${n.id}: scope ${s}`);
          }
        }
      });

      it('carries no credentials and no private key material', () => {
        for (const [key, at] of keysOf(nodes)) {
          assert.notEqual(key, 'credentials', at);
          assert.notEqual(key, 'd', `${at}: a "d" field (a private JWK part, or a disabled flag) has no place in an example`);
        }
        const text = raw.get(file)!;
        // Also JSON kept inside strings (Inject payloads, function code, contract terms).
        assert.doesNotMatch(text, /\\*"(d|kty|jwk)\\*"\s*:/, 'a JWK inside a string');
        assert.doesNotMatch(text, /PRIVATE KEY|"has_jwk"/);
      });

      it('names every node, so a warning or an error in the log says which node it is', () => {
        // Config nodes without a name show their ledger or identity instead; the tab has a label.
        const unnamed = nodes.filter((n) => n.type !== 'tab' && !isConfigType(n.type) && !(typeof n.name === 'string' && n.name.trim()));
        assert.deepEqual(unnamed.map((n) => `${n.type} ${n.id}`), []);
      });

      it('explains itself with Comment nodes', () => {
        const comments = nodes.filter((n) => n.type === 'comment');
        assert.ok(comments.length >= 3, `${comments.length} comments`);
        for (const c of comments) assert.ok(typeof c.name === 'string' && c.name.length > 0, `comment ${c.id} has no name`);
        assert.ok(comments.some((c) => typeof c.info === 'string' && c.info.length > 200), 'no comment explains the flow in its info');
      });
    });
  }

  it('uses every node type of the pack except config nodes in at least one example', () => {
    const types = packTypes();
    assert.ok(types.length >= 8, `pack types: ${types.join(', ')}`);
    const used = new Set([...parsed.values()].flat().map((n) => n.type));
    const missing = types.filter((t) => !isConfigType(t) && !used.has(t));
    assert.deepEqual(missing, [], `not in any example: ${missing.join(', ')}`);
  });

  it('shares config nodes across examples only when they are identical (so a second import reuses them)', () => {
    const first = new Map<string, [string, FlowNode]>();
    for (const [file, nodes] of parsed) {
      for (const n of nodes) {
        if (!isConfigType(n.type)) continue;
        const prev = first.get(n.id);
        if (prev) assert.ok(isDeepStrictEqual(prev[1], n), `${n.type} ${n.id} differs between ${prev[0]} and ${file}`);
        else first.set(n.id, [file, n]);
      }
    }
  });

  describe('cold-room.json', () => {
    const nodes = parsed.get('cold-room.json')!;
    const one = (type: string): FlowNode => {
      const found = nodes.filter((n) => n.type === type);
      assert.equal(found.length, 1, type);
      return found[0];
    };

    it('connects to a broker on localhost:1883 as imported (npm start points it at its own broker)', () => {
      const broker = one('mqtt-broker');
      assert.equal(broker.broker, 'localhost');
      assert.equal(broker.port, '1883');
      const inputs = nodes.filter((n) => n.type === 'mqtt in').map((n) => n.topic);
      assert.ok(inputs.includes('coldroom/+/reading'));
    });

    it('wires MQTT -> Verify -> Contract -> (second output) Record, with a Catch on all three', () => {
      const [mqttIn, verify, contract, record, catchNode] = ['mqtt in', 'iot-ledger-verify', 'iot-ledger-contract', 'iot-ledger-record', 'catch'].map((t) =>
        t === 'mqtt in' ? nodes.find((n) => n.type === t && n.topic === 'coldroom/+/reading')! : one(t),
      );
      assert.deepEqual(mqttIn.wires, [[verify.id]]);
      assert.deepEqual(verify.wires, [[contract.id]]);
      assert.equal(contract.wires?.length, 2);
      assert.deepEqual(contract.wires?.[1], [record.id]);
      assert.equal(byType(nodes, contract.wires?.[0][0]), 'debug');
      // The contract document goes out retained for devices to pull, through a switch that keeps events off the broker.
      assert.equal(contract.publishDocument, true);
      const docs = nodes.find((n) => n.type === 'switch' && contract.wires?.[0].includes(n.id))!;
      assert.deepEqual(docs.rules, [{ t: 'regex', v: '^iot-ledger/contract/', vt: 'str', case: false }]);
      // What the broker holds there comes back to the node, which publishes its own again over anyone else's.
      const held = nodes.find((n) => n.type === 'mqtt in' && n.topic === 'iot-ledger/contract/+');
      assert.deepEqual(held?.wires, [[contract.id]]);
      const out = nodes.find((n) => n.id === docs.wires?.[0][0])!;
      assert.deepEqual([out.type, out.topic, out.retain], ['mqtt out', '', '']);
      assert.deepEqual([...(catchNode.scope as string[])].sort(), [verify.id, contract.id, record.id].sort());
      const query = one('iot-ledger-query');
      assert.equal(query.mode, 'latest');
      assert.equal(Number(query.limit), 10);
      assert.ok(nodes.some((n) => n.type === 'inject' && n.wires?.[0].includes(one('iot-ledger-enrol').id)));
    });

    it('ships valid terms for cold-room-1 whose parties and subject are real did:keys', () => {
      const terms = validateTerms(JSON.parse(String(one('iot-ledger-contract').terms)));
      assert.equal(terms.id, 'cold-room-1');
      assert.deepEqual(terms.rule, { op: '<', limit: -20 });
      assert.deepEqual(terms.alarm, { mode: 'consecutive', seconds: 30 });
      assert.equal(terms.hysteresis, 0.5);
      assert.equal(terms.maxGapSeconds, 30);
      assert.deepEqual(terms.mkt, { limit: -15, windowSeconds: 3600, activationEnergyKJ: 83.144 });
      assert.equal(terms.parties.length, 2);
      assert.ok(Array.isArray(terms.subjects) && terms.subjects.length === 1 && terms.subjects[0].startsWith('did:key:'));
    });
  });
});

function byType(nodes: FlowNode[], id: string | undefined): string | undefined {
  return nodes.find((n) => n.id === id)?.type;
}

describe('examples: device-signing.json placeholder', () => {
  it('the "enrol pi" placeholder fails with an error that says what to paste where', () => {
    const inject = parsed.get('device-signing.json')!.find((n) => n.type === 'inject' && n.name === 'enrol pi')!;
    assert.throws(
      () => enrolBody(JSON.parse(String(inject.payload))),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_MALFORMED_DID');
        assert.match(err.message, /replace me in inject 'enrol pi' with the did:key of Identity 'pi'/);
        return true;
      },
    );
  });
});
