import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { anchorArtifact } from '../../lib/anchor/artifact';

// The repository root from dist/test/anchor.
const root = path.resolve(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const compiler = require(path.join(root, 'scripts', 'compile-contract.js')) as {
  compileAnchorContract: () => unknown;
  artifactText: (a: unknown) => string;
  ARTIFACT: string;
};

describe('anchor contract artifact', function () {
  this.timeout(60000);

  it('the checked-in artifact is what solc makes of the checked-in source', () => {
    const fresh = compiler.artifactText(compiler.compileAnchorContract());
    const checkedIn = fs.readFileSync(path.join(root, compiler.ARTIFACT), 'utf8');
    assert.equal(checkedIn, fresh, 'run `node scripts/compile-contract.js --write` after changing contracts/IotLedgerAnchor.sol');
  });

  it('the build compiled the same artifact into dist/contracts', () => {
    const built = fs.readFileSync(path.join(root, 'dist', compiler.ARTIFACT), 'utf8');
    assert.equal(built, fs.readFileSync(path.join(root, compiler.ARTIFACT), 'utf8'));
  });

  it('the runtime loads the checked-in artifact: one Anchored event with the origin hash indexed', () => {
    const a = anchorArtifact();
    const ev = a.abi.find((e) => e.type === 'event');
    assert.equal(ev?.name, 'Anchored');
    assert.deepEqual(
      ev?.inputs?.map((i) => [i.name, i.type, i.indexed]),
      [
        ['originHash', 'bytes32', true],
        ['size', 'uint64', false],
        ['root', 'bytes32', false],
        ['checkpointHash', 'bytes32', false],
      ],
    );
    assert.match(a.bytecode, /^0x[0-9a-f]{200,}$/);
  });
});
