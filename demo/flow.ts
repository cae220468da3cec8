/**
 * Reads what the `npm start` demo needs from a flow export: it personalises the cold-room
 * example (the Contract node's terms get this installation's party and sensor did:keys in
 * place of the example's), and finds the ledgers the flow's Verify and Contract nodes will
 * open, so they can be prepared before Node-RED starts.
 */
import { validateTerms } from '../lib/contracts';
import { LedgerError } from '../lib/errors';

export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  [property: string]: unknown;
}

export const LEDGER_CONFIG = 'iot-ledger-config';
export const VERIFY = 'iot-ledger-verify';
export const CONTRACT = 'iot-ledger-contract';

function isNode(n: unknown): n is FlowNode {
  return !!n && typeof n === 'object' && typeof (n as FlowNode).id === 'string' && typeof (n as FlowNode).type === 'string';
}

/** The nodes of a flow export, with a clear error for anything that is not one. */
export function flowNodes(flows: unknown[]): FlowNode[] {
  return flows.map((n, i) => {
    if (!isNode(n)) throw new Error(`flow entry ${i} is not a Node-RED node (an object with id and type)`);
    return n;
  });
}

/** A Contract node's terms as data: one object or a list, from the JSON text the node keeps. */
export function contractTerms(node: FlowNode): unknown[] {
  let v: unknown = node.terms;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new LedgerError('ERR_INVALID_TERMS', `the terms of Contract node ${node.id} are not valid JSON`);
    }
  }
  return Array.isArray(v) ? v : [v];
}

export interface ContractParticipants {
  /** did:keys that replace the terms' `parties`. */
  parties: readonly string[];
  /** did:keys that replace the terms' `subjects` (unless the terms say "any"). */
  subjects: readonly string[];
}

/**
 * A copy of `flows` in which every Contract node's terms name `who.parties` as parties and
 * `who.subjects` as subjects. The terms are validated (ERR_INVALID_TERMS) and written back
 * as JSON text, so the deployed node hashes exactly the terms the ledger was prepared with.
 */
export function personaliseContracts(flows: unknown[], who: ContractParticipants): FlowNode[] {
  return flowNodes(structuredClone(flows)).map((n) => {
    if (n.type !== CONTRACT) return n;
    const list = contractTerms(n).map((t) => {
      if (!t || typeof t !== 'object' || Array.isArray(t)) throw new LedgerError('ERR_INVALID_TERMS', `Contract node ${n.id}: terms must be objects`);
      const terms: Record<string, unknown> = { ...(t as Record<string, unknown>), parties: [...who.parties] };
      if (terms.subjects !== 'any') terms.subjects = [...who.subjects];
      validateTerms(terms);
      return terms;
    });
    return { ...n, terms: JSON.stringify(list.length === 1 ? list[0] : list, null, 2) };
  });
}

/** A Ledger config node and what the flow does with it. */
export interface LedgerUse {
  configId: string;
  /** As the config node reads its properties (same defaults). */
  ledgerName: string;
  dir?: string;
  blockRecords: number;
  blockSeconds: number;
  /** Some Verify node checks device messages against it (so devices must be enrolled there). */
  verifies: boolean;
  /** Terms of the Contract nodes using it (unvalidated, as the nodes hold them). */
  contracts: unknown[];
}

/** The Ledger config nodes that a Verify or Contract node (not disabled) uses. */
export function ledgersInUse(flows: unknown[]): LedgerUse[] {
  const nodes = flowNodes(flows);
  const disabledTabs = new Set(nodes.filter((n) => n.type === 'tab' && n.disabled === true).map((n) => n.id));
  const live = (n: FlowNode): boolean => n.d !== true && !(n.z !== undefined && disabledTabs.has(n.z));
  const uses = new Map<string, LedgerUse>();
  for (const c of nodes) {
    if (c.type !== LEDGER_CONFIG) continue;
    uses.set(c.id, {
      configId: c.id,
      ledgerName: (typeof c.ledgerName === 'string' && c.ledgerName) || 'iot-ledger',
      ...(typeof c.dir === 'string' && c.dir.trim() ? { dir: c.dir } : {}),
      blockRecords: Number(c.blockRecords) || 1000,
      blockSeconds: Number(c.blockSeconds) || 60,
      verifies: false,
      contracts: [],
    });
  }
  const used = new Set<string>();
  for (const n of nodes) {
    if ((n.type !== VERIFY && n.type !== CONTRACT) || !live(n)) continue;
    const use = uses.get(typeof n.ledger === 'string' ? n.ledger : '');
    if (!use) continue;
    used.add(use.configId);
    if (n.type === VERIFY) use.verifies = true;
    else use.contracts.push(...contractTerms(n));
  }
  return [...uses.values()].filter((u) => used.has(u.configId));
}

export const MQTT_BROKER = 'mqtt-broker';
/** What `npm start` puts in the broker config nodes it seeds: Node-RED fills them in from its environment. */
export const BROKER_FROM_ENV = { broker: '${MQTT_HOST}', port: '${MQTT_PORT}' } as const;

/**
 * A copy of `flows` whose MQTT broker config nodes take host and port from `${MQTT_HOST}` /
 * `${MQTT_PORT}`, so that `npm start` (which sets both for Node-RED) points them at the broker
 * it uses on every start. The examples themselves name localhost:1883, which works in a plain
 * Node-RED beside a local broker.
 */
export function brokerFromEnvironment(flows: unknown[]): FlowNode[] {
  return flowNodes(structuredClone(flows)).map((n) => (n.type === MQTT_BROKER ? { ...n, ...BROKER_FROM_ENV } : n));
}

/** The ids of the broker config nodes that follow `npm start`'s broker (see brokerFromEnvironment). */
export function brokersFromEnvironment(flows: unknown[]): string[] {
  return flowNodes(flows)
    .filter((n) => n.type === MQTT_BROKER && n.broker === BROKER_FROM_ENV.broker)
    .map((n) => n.id);
}
