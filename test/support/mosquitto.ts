// Debian's mosquitto broker as a child process, on a free local port, for tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../demo/ports';
import { scratchDir } from './e2e';
import { until } from './until';

export interface Mosquitto {
  port: number;
  url: string;
  /** Everything the broker printed. */
  output(): string;
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface MosquittoOptions {
  /** Only this user name and password get in (anonymous clients are refused). */
  login?: { username: string; password: string };
  /** More lines for mosquitto.conf (e.g. queue limits for a benchmark). */
  config?: string[];
}

/** Starts `mosquitto -c <config>` listening on 127.0.0.1 and resolves once it accepts connections. */
export async function startMosquitto(timeoutMs = 10_000, opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = await freePort();
  const dir = scratchDir('mosquitto');
  const config = path.join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, `allow_anonymous ${opts.login ? 'false' : 'true'}`, 'persistence false'];
  if (opts.login) {
    const passwd = path.join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwd, opts.login.username, opts.login.password]);
    // Started as root, mosquitto would switch to its own user, who cannot read this scratch dir.
    lines.push(`password_file ${passwd}`, `user ${os.userInfo().username}`);
  }
  lines.push(...(opts.config ?? []));
  fs.writeFileSync(config, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await until(
      `mosquitto to accept connections on port ${port}`,
      () => {
        if (spawnError) throw spawnError;
        if (child.exitCode !== null) throw new Error(`mosquitto exited (code ${child.exitCode})`);
        return accepts(port);
      },
      { timeoutMs, pollMs: 50 },
    );
  } catch (err) {
    await stop();
    throw new Error(`mosquitto did not start on port ${port}: ${(err as Error).message}\n${out}`);
  }
  return { port, url: `mqtt://127.0.0.1:${port}`, output: () => out, stop };
}
