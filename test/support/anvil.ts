// A real local EVM chain for the tests: Foundry's anvil, from the npm package's platform
// binary (@foundry-rs/anvil-<os>-<arch>), on a port it picks itself.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { ContractFactory, JsonRpcProvider, Network, Wallet } from 'ethers';
import { anchorArtifact } from '../../lib/anchor/artifact';

/** anvil's well-known development accounts (mnemonic "test test ... junk"): never real funds. */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9ad4b0b7b29f8',
];
export const ANVIL_CHAIN_ID = 31337;

export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
}

export interface Anvil {
  url: string;
  port: number;
  provider: JsonRpcProvider;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  mine(blocks?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startAnvil(args: string[] = [], port = 0): Promise<Anvil> {
  const child: ChildProcess = spawn(anvilBinary(), ['--port', String(port), '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listening = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`anvil did not start: ${out}`)), 30000);
    const onData = (d: Buffer): void => {
      if (out.length > 100_000) return;
      out += d.toString();
      const m = /Listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with ${code}: ${out}`));
    });
  });
  const url = `http://127.0.0.1:${listening}`;
  const provider = new JsonRpcProvider(url, Network.from(ANVIL_CHAIN_ID), { staticNetwork: true, cacheTimeout: -1 });
  const rpc = <T>(method: string, params: unknown[] = []): Promise<T> => provider.send(method, params) as Promise<T>;
  return {
    url,
    port: listening,
    provider,
    rpc,
    mine: async (blocks = 1) => {
      await rpc('anvil_mine', [`0x${blocks.toString(16)}`]);
    },
    stop: async () => {
      provider.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Deploys the anchor contract from the checked-in artifact; the deployer is its owner. */
export async function deployAnchor(anvil: Anvil, key = ANVIL_KEYS[0]): Promise<string> {
  const a = anchorArtifact();
  const wallet = new Wallet(key, anvil.provider);
  const factory = new ContractFactory(a.abi, a.bytecode, wallet);
  const contract = await factory.deploy();
  await contract.waitForDeployment();
  return contract.getAddress();
}
