// A real local EVM chain for the tests: Foundry's anvil, from the npm package's platform
// binary (@foundry-rs/anvil-<os>-<arch>), on a port it picks itself.
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { ContractFactory, HDNodeWallet, JsonRpcProvider, Network, Wallet } from 'ethers';
import { anchorArtifact } from '../../lib/anchor/artifact';

/** anvil's funded development accounts, from its well-known test mnemonic: never real funds. */
export const ANVIL_KEYS = [0, 1, 2, 3].map(
  (i) => HDNodeWallet.fromPhrase('test test test test test test test test test test test junk', undefined, `m/44'/60'/0'/0/${i}`).privateKey,
);
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

/** A TCP relay in front of anvil that a test can take down and bring back (an RPC outage). */
export interface Relay {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(target: number): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return { url: `http://127.0.0.1:${port}`, down, up: listen, close: down };
}

/** One JSON-RPC call as a proxy sees it. */
export interface RpcCall {
  id: unknown;
  method: string;
  params: unknown[];
}

/** The JSON-RPC answer to `call` with `result`. */
export const rpcResult = (call: RpcCall, result: unknown): object => ({ jsonrpc: '2.0', id: call.id, result });

/** A fake JSON-RPC endpoint: `answer` returns the whole answer to each call. */
export async function startRpcServer(answer: (call: RpcCall) => Promise<object> | object): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void Promise.resolve(answer(JSON.parse(Buffer.concat(chunks).toString()) as RpcCall)).then((out) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A JSON-RPC proxy in front of `target` (an endpoint that lies): `answer` gets each call and a
 * `forward` that asks `target`, and returns the answer to send (forward's, changed or not, or a lie).
 */
export function startRpcProxy(
  target: string,
  answer: (call: RpcCall, forward: () => Promise<{ result?: unknown }>) => Promise<object> | object,
): Promise<{ url: string; close(): Promise<void> }> {
  return startRpcServer((call) =>
    answer(call, async () => (await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(call) })).json()) as { result?: unknown }),
  );
}

/** How long, and how often, a test polls for what the chain or the anchorer does (for `until`). */
export const CHAIN_WAIT = { timeoutMs: 20_000, pollMs: 50 };
