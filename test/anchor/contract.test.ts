import * as assert from 'node:assert/strict';
import { Contract, Wallet, id } from 'ethers';
import { anchorArtifact } from '../../lib/anchor/artifact';
import { ANVIL_KEYS, deployAnchor, startAnvil, type Anvil } from '../support/anvil';

describe('anchor contract on a real chain (anvil)', function () {
  this.timeout(60000);
  let anvil: Anvil;
  let address: string;
  before(async () => {
    anvil = await startAnvil();
    address = await deployAnchor(anvil);
  });
  after(() => anvil?.stop());

  it('emits one Anchored event per anchor, the origin hash as a topic, and costs under 30k gas', async () => {
    const owner = new Wallet(ANVIL_KEYS[0], anvil.provider);
    const c = new Contract(address, anchorArtifact().abi, owner);
    const origin = `0x${'11'.repeat(32)}`;
    const root = `0x${'22'.repeat(32)}`;
    const cp = `0x${'33'.repeat(32)}`;
    const tx = await c.getFunction('anchor')(origin, 42n, root, cp);
    const receipt = await tx.wait();
    assert.equal(receipt.status, 1);
    assert.equal(receipt.logs.length, 1);
    const log = receipt.logs[0];
    assert.equal(log.topics[0], id('Anchored(bytes32,uint64,bytes32,bytes32)'));
    assert.equal(log.topics[1], origin);
    const parsed = c.interface.parseLog(log);
    assert.deepEqual([parsed?.args.size, parsed?.args.root, parsed?.args.checkpointHash], [42n, root, cp]);
    // The measured cost, printed for the README: 21000 intrinsic + calldata + one LOG2.
    console.log(`      gas used by one anchor: ${receipt.gasUsed}`);
    assert.ok(receipt.gasUsed < 30000n, `one anchor used ${receipt.gasUsed} gas`);
  });

  it('refuses anchors from any account but the deployer (NotOwner)', async () => {
    const other = new Wallet(ANVIL_KEYS[1], anvil.provider);
    const c = new Contract(address, anchorArtifact().abi, other);
    await assert.rejects(c.getFunction('anchor')(`0x${'11'.repeat(32)}`, 1n, `0x${'22'.repeat(32)}`, `0x${'33'.repeat(32)}`), (err: Error & { data?: string }) => {
      assert.equal(c.interface.parseError(err.data ?? '0x')?.name, 'NotOwner');
      return true;
    });
  });
});
