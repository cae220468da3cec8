// Node-RED's credentials file (flows_cred.json) as Node-RED 1-5 write it with a credentialSecret:
// {"$": hex(iv) + base64(AES-256-CTR(JSON))}, key = SHA-256(secret). `npm start` uses it to give
// the flow's broker node the user name and password of the user's own broker before Node-RED
// starts, so they live where Node-RED keeps every credential and nowhere else.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type NodeCredentials = Record<string, Record<string, string>>;

const ALGORITHM = 'aes-256-ctr';

/** `flows.json` -> `flows_cred.json`, as Node-RED's file storage names it. */
export function credentialsFile(userDir: string, flowFile = 'flows.json'): string {
  const ext = path.extname(flowFile);
  return path.join(userDir, `${path.basename(flowFile, ext)}_cred${ext || '.json'}`);
}

export function encryptCredentials(secret: string, creds: NodeCredentials): { $: string } {
  const key = createHash('sha256').update(secret).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  return { $: iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64') };
}

export function decryptCredentials(secret: string, stored: { $: string }): NodeCredentials {
  const key = createHash('sha256').update(secret).digest();
  const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(stored.$.slice(0, 32), 'hex'));
  const text = decipher.update(stored.$.slice(32), 'base64', 'utf8') + decipher.final('utf8');
  return JSON.parse(text) as NodeCredentials;
}

/**
 * Sets (merges) credentials of some nodes in the user dir's credentials file, keeping every
 * other node's. Throws when the existing file cannot be read with this secret.
 */
export function setNodeCredentials(userDir: string, secret: string, update: NodeCredentials, flowFile = 'flows.json'): void {
  const file = credentialsFile(userDir, flowFile);
  let current: NodeCredentials = {};
  if (fs.existsSync(file)) {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { $?: unknown };
    if (typeof stored.$ !== 'string') throw new Error(`${file} is not encrypted with a credentialSecret`);
    try {
      current = decryptCredentials(secret, stored as { $: string });
    } catch (err) {
      throw new Error(`${file} cannot be decrypted with the user directory's credential secret`, { cause: err });
    }
  }
  for (const [id, creds] of Object.entries(update)) current[id] = { ...current[id], ...creds };
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(encryptCredentials(secret, current), null, 4)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
