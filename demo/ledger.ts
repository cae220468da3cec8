/**
 * Prepares a ledger for the `npm start` demo before Node-RED opens it: enrols the simulated
 * sensors, registers the contracts and records each demo party's signature over their terms.
 * Every step is skipped when the ledger already holds it, so a second start changes nothing.
 * One process owns a ledger directory: call this only while Node-RED is not running.
 */
import { signContract } from '../lib/contracts';
import { ContractRunner, Gateway } from '../lib/gateway';
import { loadOrCreateKeyFile } from '../lib/crypto/keyfile';
import { isLedgerError } from '../lib/errors';
import { generateKey, type PrivateKey } from '../lib/crypto/keys';
import type { LedgerUse } from './flow';

export interface PrepareLedgerOptions {
  dir: string;
  /** The gateway key file; created (Ed25519, 0600) when missing, as the Ledger config node does. */
  keyFile: string;
  name: string;
  blockRecords?: number;
  blockSeconds?: number;
  /** Devices to enrol unless the ledger knows them already (enrolled or revoked). */
  devices?: ReadonlyArray<{ did: string; name: string; meta?: Record<string, unknown> }>;
  /** Contract terms to register. */
  contracts?: readonly unknown[];
  /** Keys that sign each contract they are a party to, unless their signature is recorded. */
  parties?: ReadonlyArray<{ name: string; did: string; key: PrivateKey }>;
}

export interface PreparedContract {
  id: string;
  version: number;
  termsHash: string;
  /** did:keys (or names) of the devices it judges, or "any". */
  subjects: 'any' | string[];
  active: boolean;
  /** Roles (party names) that signed during this call. */
  signedNow: string[];
  /** did:keys that still have to sign. */
  missingParties: string[];
}

/** Terms that could not be registered (the Contract node will report the same error). */
export interface SkippedContract {
  id?: string;
  code: string;
  message: string;
}

export interface PreparedLedger {
  name: string;
  dir: string;
  gatewayDid: string;
  /** Records after preparing. */
  size: number;
  /** Names of the devices enrolled during this call. */
  enrolledNow: string[];
  /** Devices the ledger knows that are not revoked. */
  activeDevices: number;
  contracts: PreparedContract[];
  skipped: SkippedContract[];
}

export async function prepareLedger(opts: PrepareLedgerOptions): Promise<PreparedLedger> {
  const gatewayKey = loadOrCreateKeyFile(opts.keyFile, () => generateKey('Ed25519'));
  const gw = await Gateway.open(opts.dir, {
    name: opts.name,
    gatewayKey,
    ...(opts.blockRecords !== undefined ? { blockRecords: opts.blockRecords } : {}),
    ...(opts.blockSeconds !== undefined ? { blockSeconds: opts.blockSeconds } : {}),
  });
  try {
    const enrolledNow: string[] = [];
    for (const d of opts.devices ?? []) {
      // A revoked device stays revoked: someone decided that on purpose.
      if (gw.devices.get(d.did)) continue;
      await gw.enrol({ did: d.did, name: d.name, ...(d.meta ? { meta: d.meta } : {}) });
      enrolledNow.push(d.name);
    }
    const contracts: PreparedContract[] = [];
    const skipped: SkippedContract[] = [];
    for (const terms of opts.contracts ?? []) {
      let runner: ContractRunner;
      try {
        runner = await ContractRunner.load(gw, terms);
      } catch (err) {
        if (!isLedgerError(err, 'ERR_INVALID_TERMS')) throw err;
        const id = (terms as { id?: unknown } | null)?.id;
        skipped.push({ ...(typeof id === 'string' ? { id } : {}), code: err.code, message: err.message });
        continue;
      }
      const signedNow: string[] = [];
      for (const p of opts.parties ?? []) {
        if (!runner.terms.parties.includes(p.did) || runner.signed.has(p.did)) continue;
        await runner.sign(signContract(runner.terms, p.key, { kid: p.did }));
        signedNow.push(p.name);
      }
      contracts.push({
        id: runner.terms.id,
        version: runner.terms.version,
        termsHash: runner.ref.termsHash,
        subjects: runner.terms.subjects,
        active: runner.active,
        signedNow,
        missingParties: runner.missingParties,
      });
    }
    return {
      name: gw.ledger.name,
      dir: gw.ledger.dir,
      gatewayDid: gw.ledger.gatewayDid,
      size: gw.ledger.size,
      enrolledNow,
      activeDevices: gw.devices.activeDevices().length,
      contracts,
      skipped,
    };
  } finally {
    await gw.close();
  }
}

export interface FlowLedgerOptions {
  /** Where a Ledger config node keeps its ledger and gateway key (the node's own rule, see nodes/lib/ledger-config). */
  paths: (ledgerName: string, dir?: string) => { dir: string; keyFile: string };
  /** Enrolled on every ledger a Verify node checks messages against. */
  devices: PrepareLedgerOptions['devices'];
  parties: PrepareLedgerOptions['parties'];
}

/**
 * Prepares every ledger the flow's Verify and Contract nodes use (see ledgersInUse), one
 * directory at a time; Ledger config nodes that share a directory are prepared together.
 */
export async function prepareFlowLedgers(uses: readonly LedgerUse[], opts: FlowLedgerOptions): Promise<Array<PreparedLedger & { verifies: boolean }>> {
  const byDir = new Map<string, { use: LedgerUse; keyFile: string; verifies: boolean; contracts: unknown[] }>();
  for (const use of uses) {
    const { dir, keyFile } = opts.paths(use.ledgerName, use.dir);
    const entry = byDir.get(dir) ?? { use, keyFile, verifies: false, contracts: [] };
    entry.verifies ||= use.verifies;
    entry.contracts.push(...use.contracts);
    byDir.set(dir, entry);
  }
  const out: Array<PreparedLedger & { verifies: boolean }> = [];
  for (const [dir, e] of byDir) {
    out.push({
      verifies: e.verifies,
      ...(await prepareLedger({
        dir,
        keyFile: e.keyFile,
        name: e.use.ledgerName,
        blockRecords: e.use.blockRecords,
        blockSeconds: e.use.blockSeconds,
        devices: e.verifies ? opts.devices : [],
        contracts: e.contracts,
        parties: opts.parties,
      })),
    });
  }
  return out;
}
