'use strict';
// Compiles contracts/IotLedgerAnchor.sol with the solc version pinned in package.json (npm's
// solc-js, no download) into an artifact: ABI, creation and runtime bytecode, compiler and
// settings. The build writes it to dist/contracts/; `node scripts/compile-contract.js --write`
// refreshes the checked-in contracts/IotLedgerAnchor.json, which a test compares with the build's.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const root = path.resolve(__dirname, '..');
const NAME = 'IotLedgerAnchor';
const SOURCE = `${NAME}.sol`;
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  // Paris (no PUSH0) so the same bytecode deploys on every EVM chain the README lists.
  evmVersion: 'paris',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function compileAnchorContract() {
  const solc = require('solc');
  const source = fs.readFileSync(path.join(root, 'contracts', SOURCE), 'utf8');
  const input = { language: 'Solidity', sources: { [SOURCE]: { content: source } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(`solc: ${errors.map((e) => e.formattedMessage).join('\n')}`);
  const c = output.contracts[SOURCE][NAME];
  const settings = { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion };
  return {
    contractName: NAME,
    sourceName: `contracts/${SOURCE}`,
    sourceSha256: crypto.createHash('sha256').update(source).digest('hex'),
    compiler: { name: 'solc', version: solc.version(), settings },
    abi: c.abi,
    bytecode: `0x${c.evm.bytecode.object}`,
    deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
  };
}

function artifactText(artifact) {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

function writeArtifact(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, artifactText(compileAnchorContract()));
}

module.exports = { compileAnchorContract, artifactText, writeArtifact, ARTIFACT: `contracts/${NAME}.json` };

if (require.main === module) {
  const target = process.argv.includes('--write') ? path.join(root, 'contracts', `${NAME}.json`) : path.join(root, 'dist', 'contracts', `${NAME}.json`);
  writeArtifact(target);
  console.log(`wrote ${path.relative(root, target)}`);
}
