import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdminClient, type DeploymentType, type FlowsResponse, type NodeSetInfo } from './admin-client';
import { type AdminCredentials, FLOWS_SIGNAL, FLOWS_STARTED_SIGNAL, type LogLevel, writeSettings } from './settings';
import { assertPortFree, freePort } from '../ports';

export interface NodeRedProcessOptions {
  /** Must exist (see createUserDir); settings.js is written into it unless writeSettings is false. */
  userDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
  /**
   * Where node-red is installed: any directory from which `node-red/red.js`
   * resolves (a project root or an `npm install --prefix` dir). Default: this
   * package's own node-red.
   */
  nodeRedInstall?: string;
  /** The node executable. Default: the one running this process. */
  nodeBinary?: string;
  adminAuth?: AdminCredentials;
  logLevel?: LogLevel;
  flowFile?: string;
  /** Default true. When false, the user dir's settings.js is used as it is. */
  writeSettings?: boolean;
  /** Extra environment for the child (added to this process's). */
  env?: Record<string, string>;
  /** How long to wait for the admin API. Default 60 s. */
  startTimeoutMs?: number;
  /** Called with every output line as it arrives (e.g. to echo it). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Lines kept in memory, oldest dropped first. Default 10000. */
  keepLines?: number;
}

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Thrown when Node-RED does not come up; carries the tail of its output. */
export class NodeRedStartError extends Error {
  readonly output: string;

  constructor(message: string, output: string) {
    super(`${message}\n--- Node-RED output (last lines) ---\n${output}`);
    this.name = 'NodeRedStartError';
    this.output = output;
  }
}

const escape = (text: string): string => text.replace(/[[\]]/g, '\\$&');
const SIGNAL = escape(FLOWS_SIGNAL);
/**
 * settings.js's line for a state the runtime reached (the flows run, stopped or could not
 * start), `unavailable`, or that the flows started. Not a runtime-state event without a state:
 * Node-RED sends one for a warning on the way, e.g. credentials it could not decrypt and reset,
 * then starts the flows without a runtime-state event (FLOWS_STARTED_SIGNAL says so then).
 * settings.js writes `state` first when there is one.
 */
const FLOWS_LINE = new RegExp(`^(${SIGNAL} (unavailable$|\\{"state":)|${escape(FLOWS_STARTED_SIGNAL)}$)`);
/** Node-RED's warning that flows_cred.json did not decrypt with credentialSecret, whose credentials it reset. */
const CREDENTIALS_RESET_LINE = new RegExp(`^${SIGNAL} \\{"error":"credentials_load_failed"\\}$`);

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Absolute path of red.js for the node-red that resolves from `installDir`. */
export function resolveRedJs(installDir?: string): string {
  try {
    return installDir ? require.resolve('node-red/red.js', { paths: [installDir] }) : require.resolve('node-red/red.js');
  } catch (err) {
    const where = installDir ?? 'the node_modules of node-red-contrib-iot-ledger';
    throw new Error(`node-red is not installed in ${where} (npm install --prefix <dir> node-red)`, { cause: err });
  }
}

/** A real Node-RED (`node red.js -u userDir -p port`) running as a child process. */
export class NodeRedProcess {
  readonly userDir: string;
  readonly host: string;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  readonly redJs: string;
  /** node-red's package version, e.g. 4.1.15. */
  readonly nodeRedVersion: string;
  readonly admin: AdminClient;
  /** Every output line so far, both streams in arrival order (bounded by keepLines). */
  readonly lines: OutputLine[] = [];
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private readonly keepLines: number;
  private readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  private readonly waiters = new Set<(line: OutputLine) => void>();
  private exitInfo?: ExitInfo;

  private constructor(opts: NodeRedProcessOptions, port: number) {
    this.userDir = path.resolve(opts.userDir);
    this.host = opts.host ?? '127.0.0.1';
    this.port = port;
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}`;
    this.redJs = resolveRedJs(opts.nodeRedInstall);
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(this.redJs), 'package.json'), 'utf8')) as { version: string };
    this.nodeRedVersion = pkg.version;
    this.admin = new AdminClient(this.url, opts.adminAuth);
    this.keepLines = opts.keepLines ?? 10_000;
    this.onLine = opts.onLine;

    const args = ['--require', path.join(__dirname, 'parent-watch.js'), this.redJs, '-u', this.userDir, '-p', String(port)];
    this.child = spawn(opts.nodeBinary ?? process.execPath, args, {
      cwd: this.userDir,
      env: { ...process.env, NODE_RED_DISABLE_TELEMETRY: '1', ...opts.env },
      // Own process group: a Ctrl-C in the terminal reaches only the parent, which stops the child once.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    live.add(this.child);
    installExitHook();
    this.capture('stdout');
    this.capture('stderr');
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.push('stderr', `spawn failed: ${err.message}`);
        live.delete(this.child);
        this.exitInfo = { code: null, signal: null };
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  /** Writes settings (unless told not to), spawns Node-RED and waits until GET /settings answers. */
  static async start(opts: NodeRedProcessOptions): Promise<NodeRedProcess> {
    if (!fs.existsSync(opts.userDir)) throw new Error(`user directory ${opts.userDir} does not exist`);
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? (await freePort(host));
    // Otherwise a server already on the port could answer in Node-RED's place.
    await assertPortFree(host, port, 'choose another port, or give none to get a free one');
    let keptUserSettings = false;
    if (opts.writeSettings !== false) {
      keptUserSettings = !writeSettings(opts.userDir, {
        uiHost: host,
        uiPort: port,
        flowFile: opts.flowFile,
        adminAuth: opts.adminAuth,
        logLevel: opts.logLevel,
      });
    }
    const nr = new NodeRedProcess(opts, port);
    if (keptUserSettings) nr.push('stderr', `[harness] ${opts.userDir}/settings.js was edited by hand; using it as it is`);
    try {
      const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
      await nr.waitUntilReady(deadline - Date.now(), opts.adminAuth !== undefined);
      // Node-RED answers on its admin API before it starts the flows: with our settings.js, wait for them.
      if (opts.writeSettings !== false && !keptUserSettings) await nr.waitForFlows(deadline);
    } catch (err) {
      await nr.kill();
      throw err;
    }
    return nr;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get stdout(): string[] {
    return this.lines.filter((l) => l.stream === 'stdout').map((l) => l.text);
  }

  get stderr(): string[] {
    return this.lines.filter((l) => l.stream === 'stderr').map((l) => l.text);
  }

  /** The kept output as one text. */
  output(): string {
    return this.lines.map((l) => l.text).join('\n');
  }

  /** Resolves with the first line (already seen or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l.text));
    if (seen) return Promise.resolve(seen.text);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (line: OutputLine): void => {
        if (re.test(line.text)) {
          done();
          resolve(line.text);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no Node-RED output line matched ${re} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(check);
      void this.exited.then(() => {
        if (!this.waiters.has(check)) return;
        done();
        reject(new Error(`Node-RED exited before a line matched ${re}\n${this.tail()}`));
      });
    });
  }

  getSettings(): Promise<Record<string, unknown>> {
    return this.admin.getSettings();
  }

  getNodes(): Promise<NodeSetInfo[]> {
    return this.admin.getNodes();
  }

  getFlows(): Promise<FlowsResponse> {
    return this.admin.getFlows();
  }

  /** POST /flows with `Node-RED-Deployment-Type: full` by default; returns the new revision. */
  deployFlows(flows: unknown[], type: DeploymentType = 'full'): Promise<string> {
    return this.admin.deployFlows(flows, type);
  }

  /** SIGINT (Node-RED stops its flows and exits), then SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') {
      this.push('stderr', `[harness] Node-RED did not exit ${timeoutMs} ms after SIGINT; sending SIGKILL`);
      return this.kill();
    }
    return first;
  }

  /** SIGKILL: no cleanup, as in a crash or power cut. */
  async kill(): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGKILL');
    return this.exited;
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** Until settings.js reports the first runtime state reached (the flows run, or could not start). */
  private async waitForFlows(deadline: number): Promise<void> {
    try {
      await this.waitForLine(FLOWS_LINE, Math.max(1, deadline - Date.now()));
    } catch (err) {
      throw new NodeRedStartError(`Node-RED's flows did not start: ${(err as Error).message.split('\n')[0]}`, this.tail());
    }
    // Node-RED logs this only at level warn and below; the flows run, but without credentials.
    if (this.lines.some((l) => CREDENTIALS_RESET_LINE.test(l.text)))
      this.push(
        'stderr',
        `[harness] Node-RED could not decrypt the credentials of ${this.userDir}/flows_cred.json with the credentialSecret of settings.js and reset them: nodes run without their credentials until the next deploy saves new ones`,
      );
  }

  private async waitUntilReady(timeoutMs: number, needsLogin: boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      if (this.exitInfo) {
        const { code, signal } = this.exitInfo;
        throw new NodeRedStartError(
          `Node-RED (${this.redJs}) exited (code ${code}, signal ${signal}) before its admin API answered on ${this.url}`,
          this.tail(),
        );
      }
      try {
        const attempt = async (): Promise<'ready'> => {
          if (needsLogin) await this.admin.login();
          await this.admin.getSettings();
          return 'ready';
        };
        // An exit ends the wait at once, even while a request is pending.
        if ((await Promise.race([attempt(), this.exited])) === 'ready') return;
        continue;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      await Promise.race([sleep(250), this.exited]);
    }
    throw new NodeRedStartError(
      `Node-RED's admin API did not answer GET ${this.url}/settings within ${timeoutMs} ms (last error: ${lastError})`,
      this.tail(),
    );
  }

  private capture(stream: 'stdout' | 'stderr'): void {
    const src = this.child[stream];
    if (!src) return;
    src.setEncoding('utf8');
    let partial = '';
    src.on('data', (chunk: string) => {
      const parts = (partial + chunk).split(/\r?\n/);
      partial = parts.pop() ?? '';
      for (const p of parts) this.push(stream, p);
    });
    src.on('end', () => {
      if (partial) this.push(stream, partial);
      partial = '';
    });
  }

  private push(stream: 'stdout' | 'stderr', text: string): void {
    const line = { stream, text };
    this.lines.push(line);
    if (this.lines.length > this.keepLines) this.lines.splice(0, this.lines.length - this.keepLines);
    this.onLine?.(text, stream);
    for (const w of [...this.waiters]) w(line);
  }

  private tail(n = 40): string {
    return this.lines
      .slice(-n)
      .map((l) => l.text)
      .join('\n');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Children must not outlive this process, however it exits. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}
