import { randomBytes, scryptSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface AdminCredentials {
  username: string;
  password: string;
}

export interface NodeRedSettingsOptions {
  /** Default 127.0.0.1 (Node-RED's own default is every interface). */
  uiHost?: string;
  /** Default 1880; `-p` on the command line overrides it. */
  uiPort?: number;
  /** Relative to the user directory. Default flows.json. */
  flowFile?: string;
  /** When set, the editor and admin API need this user's password. */
  adminAuth?: AdminCredentials;
  /** Console log level. Default info. */
  logLevel?: LogLevel;
}

export const CREDENTIAL_SECRET_FILE = '.credential-secret';

/**
 * The first comment of every settings.js written here; a file without it belongs to the user.
 * It keeps the module's old path (lib/runtime/) so that settings written by earlier versions still count as ours.
 */
export const GENERATED_MARKER = '// Written by node-red-contrib-iot-ledger (lib/runtime/nodered-settings).';

/**
 * The line settings.js prints on each runtime-state event of Node-RED (the flows started, stopped
 * or could not start: the same event the editor shows), followed by `{"state":...,"error":...}`,
 * or by `unavailable` when it cannot listen: NodeRedProcess.start waits for it, so that it returns
 * once the flows run rather than once the admin API answers.
 */
export const FLOWS_SIGNAL = '[iot-ledger harness] runtime-state';

/**
 * The line settings.js prints when Node-RED has started the flows (its flows:started event),
 * after any runtime-state line of that start. Needed because when Node-RED could not decrypt
 * flows_cred.json and reset the credentials, its only runtime-state event is that warning,
 * without a state, sent before the flows start: no runtime-state event follows the start.
 */
export const FLOWS_STARTED_SIGNAL = '[iot-ledger harness] flows-started';

/**
 * Creates `<userDir>/.credential-secret` (random, mode 0600) unless it exists.
 * settings.js reads it, so the secret never appears in settings or logs.
 */
export function ensureCredentialSecret(userDir: string): void {
  const file = path.join(userDir, CREDENTIAL_SECRET_FILE);
  if (fs.existsSync(file)) return;
  fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * Writes `<userDir>/settings.js` (and the credential secret). A settings.js that
 * lacks GENERATED_MARKER was edited by its owner and is left alone: returns false then.
 */
export function writeSettings(userDir: string, opts: NodeRedSettingsOptions = {}): boolean {
  fs.mkdirSync(userDir, { recursive: true });
  ensureCredentialSecret(userDir);
  const file = path.join(userDir, 'settings.js');
  if (fs.existsSync(file) && !fs.readFileSync(file, 'utf8').includes(GENERATED_MARKER)) return false;
  fs.writeFileSync(file, settingsSource(opts));
  return true;
}

/** The text of a settings.js for these options. */
export function settingsSource(opts: NodeRedSettingsOptions = {}): string {
  const j = (v: unknown): string => JSON.stringify(v);
  const lines = [
    "'use strict';",
    GENERATED_MARKER,
    '// Rewritten on each start; delete the line above to keep your own edits.',
    "const fs = require('fs');",
    "const path = require('path');",
    '// Says when the flows run (NodeRedProcess waits for it): the runtime-state and flows:started',
    '// events, on the events of the @node-red/util that the Node-RED loading this file uses.',
    'try {',
    "  const util = require(require.resolve('@node-red/util', { paths: [path.dirname(require.main.filename)] }));",
    "  util.events.on('runtime-event', (e) => {",
    "    if (e && e.id === 'runtime-state' && e.payload)",
    `      process.stdout.write(${j(FLOWS_SIGNAL + ' ')} + JSON.stringify({ state: e.payload.state, error: e.payload.error }) + '\\n');`,
    '  });',
    '  // The runtime-state of a start is sent right after flows:started, in the same turn: after it.',
    `  util.events.on('flows:started', () => setImmediate(() => process.stdout.write(${j(FLOWS_STARTED_SIGNAL + '\n')})));`,
    '} catch {',
    `  process.stdout.write(${j(FLOWS_SIGNAL + ' unavailable\n')});`,
    '}',
    'module.exports = {',
    `  uiHost: ${j(opts.uiHost ?? '127.0.0.1')},`,
    `  uiPort: ${j(opts.uiPort ?? 1880)},`,
    `  flowFile: ${j(opts.flowFile ?? 'flows.json')},`,
    '  flowFilePretty: true,',
    `  credentialSecret: fs.readFileSync(path.join(__dirname, ${j(CREDENTIAL_SECRET_FILE)}), 'utf8').trim(),`,
    '  telemetry: { enabled: false },',
    '  diagnostics: { enabled: true, ui: true },',
    '  runtimeState: { enabled: false, ui: false },',
    '  editorTheme: { tours: false },',
    `  logging: { console: { level: ${j(opts.logLevel ?? 'info')}, metrics: false, audit: false } },`,
  ];
  if (opts.adminAuth) lines.push(adminAuthSource(opts.adminAuth));
  lines.push('};', '');
  return lines.join('\n');
}

/**
 * adminAuth with a custom authenticate(): the password is kept as a salted
 * scrypt hash and checked with node:crypto, so settings.js needs no bcrypt.
 */
function adminAuthSource({ username, password }: AdminCredentials): string {
  if (!username || !password) throw new RangeError('adminAuth needs a username and a password');
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32);
  const j = (v: unknown): string => JSON.stringify(v);
  return [
    '  adminAuth: {',
    "    type: 'credentials',",
    `    users: [{ username: ${j(username)}, permissions: '*' }],`,
    '    authenticate(username, password) {',
    "      const crypto = require('crypto');",
    `      const salt = Buffer.from(${j(salt.toString('hex'))}, 'hex');`,
    `      const want = Buffer.from(${j(hash.toString('hex'))}, 'hex');`,
    `      if (username !== ${j(username)} || typeof password !== 'string') return Promise.resolve(null);`,
    '      const got = crypto.scryptSync(password, salt, 32);',
    "      return Promise.resolve(crypto.timingSafeEqual(got, want) ? { username, permissions: '*' } : null);",
    '    },',
    '  },',
  ].join('\n');
}
