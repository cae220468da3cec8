/**
 * The `npm start` demo's witness: a second tab in the same Node-RED with a Witness node that
 * witnesses every ledger of the flows, and each Ledger config node pointed at it (quorum 1),
 * so the Record node shows "cosigned 1/1". Only on a first start, like the contract keys.
 */
import * as path from 'node:path';
import { loadOrCreateKeyFile, readPrivateKeyFile } from '../lib/crypto/keyfile';
import { generateKey } from '../lib/crypto/keys';
import { verifierKeyString } from '../lib/note/note';
import { safeFileName } from '../lib/gateway/paths';
import { witnessVerifierKey } from '../lib/witness/cosignature';
import type { FlowNode } from './flow';

export const DEMO_WITNESS = 'witness.demo.local/w1';
export const DEMO_WITNESS_PREFIX = '/iot-ledger/witness';

export interface DemoWitness {
  flows: FlowNode[];
  verifierKey: string;
  url: string;
  keyFile: string;
}

/** `gatewayKeyFile(name, dir)` names the gateway key file of a ledger (it exists: the ledgers are prepared first). */
export function addDemoWitness(flows: FlowNode[], userDir: string, editorUrl: string, gatewayKeyFile: (name: string, dir?: string) => string): DemoWitness {
  const keyFile = path.join(userDir, 'iot-ledger', 'keys', `${safeFileName(DEMO_WITNESS)}.witness.jwk`);
  const verifierKey = witnessVerifierKey(DEMO_WITNESS, loadOrCreateKeyFile(keyFile, () => generateKey('Ed25519')));
  const url = `${editorUrl.replace(/\/+$/, '')}${DEMO_WITNESS_PREFIX}`;
  const logs: string[] = [];
  const out = flows.map((n) => {
    if (n.type !== 'iot-ledger-config') return n;
    const name = (typeof n.ledgerName === 'string' && n.ledgerName) || 'iot-ledger';
    logs.push(verifierKeyString(name, readPrivateKeyFile(gatewayKeyFile(name, typeof n.dir === 'string' ? n.dir : undefined))));
    return { ...n, witnesses: `${verifierKey} ${url}`, quorum: '1' };
  });
  if (logs.length === 0) return { flows, verifierKey, url, keyFile };
  const tab = 'demo-witness-tab';
  out.push(
    { id: tab, type: 'tab', label: 'Witness (demo)', info: 'A witness cosigning the demo ledger; in real use it runs on another party\'s machine.' },
    {
      id: 'demo-witness-comment',
      type: 'comment',
      z: tab,
      name: 'A witness (in real use: on the customer\'s machine)',
      info: 'This Witness node cosigns every block checkpoint of the demo ledger after checking that it extends the last one it cosigned (C2SP tlog-witness over HTTP on this Node-RED). The Ledger config node lists it with quorum 1, so the Record node shows "cosigned 1/1". See examples/witnesses.json for a gateway and a witness on two machines.',
      x: 260,
      y: 40,
      wires: [],
    },
    { id: 'demo-witness', type: 'iot-ledger-witness', z: tab, name: '', keyName: DEMO_WITNESS, logs: logs.join('\n'), prefix: DEMO_WITNESS_PREFIX, x: 160, y: 100, wires: [['demo-witness-debug']] },
    { id: 'demo-witness-debug', type: 'debug', z: tab, name: 'cosigned', active: false, tosidebar: true, complete: 'payload', targetType: 'msg', x: 400, y: 100, wires: [] },
  );
  return { flows: out, verifierKey, url, keyFile };
}
