// The anchor contract's compiled artifact (contracts/IotLedgerAnchor.json, checked in and
// compared with a fresh solc build by the tests): its ABI and bytecode, read once.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface AbiParam {
  name: string;
  type: string;
  indexed?: boolean;
}

export interface AbiEntry {
  type: string;
  name?: string;
  inputs?: AbiParam[];
  outputs?: AbiParam[];
  stateMutability?: string;
  anonymous?: boolean;
}

export interface AnchorArtifact {
  contractName: string;
  compiler: { name: string; version: string; settings: unknown };
  abi: AbiEntry[];
  bytecode: string;
  deployedBytecode: string;
}

/** contracts/ sits at the package root, beside dist/ (this file is dist/lib/anchor/artifact.js). */
export const ARTIFACT_PATH = path.join(__dirname, '..', '..', '..', 'contracts', 'IotLedgerAnchor.json');

let cached: AnchorArtifact | undefined;

export function anchorArtifact(): AnchorArtifact {
  cached ??= JSON.parse(fs.readFileSync(ARTIFACT_PATH, 'utf8')) as AnchorArtifact;
  return cached;
}
