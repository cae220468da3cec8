import * as fs from 'node:fs';
import { keyToDid } from '../crypto/didkey';
import { signEnvelope } from '../envelope/envelope';
import { readKeyFile } from '../crypto/keyfile';
import { isPrivateKey } from '../crypto/keys';
import { nextCounter, payloadToSign, signAsDevice } from '../envelope/signing';
import { parseArgs, stringFlag, UsageError } from './args';
import { readFileOrNull, stdinUpTo, type CliIo } from './io';
import { MAX_ENVELOPE_BYTES } from '../guards/limits';

export const signUsage =
  'iot-ledger sign JSON|FILE|- --key PRIVATE_JWK_FILE [--format jws|cose] [--counter N] [--ts MS] [--no-stamp] [--out FILE]';

function count(args: ReturnType<typeof parseArgs>, name: string): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be a whole number`);
  return Number(v);
}

/**
 * Signs a JSON payload as a device does (the Sign node's code): stamped with a strictly
 * increasing `counter` and a `ts` (ms), a JWS printed as text or a COSE_Sign1 as hex (raw bytes
 * with --out). With --no-stamp the payload is signed as it is (e.g. a party's contract signature).
 */
export async function sign(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['no-stamp']);
  const [input] = args.positional;
  const keyFile = stringFlag(args, 'key');
  if (input === undefined || !keyFile || args.positional.length > 1) throw new UsageError(signUsage);
  const format = stringFlag(args, 'format') ?? 'jws';
  if (format !== 'jws' && format !== 'cose') throw new UsageError('--format must be jws or cose');
  const stamp = args.flags['no-stamp'] !== true;
  const counterArg = count(args, 'counter');
  const tsArg = count(args, 'ts');
  if (!stamp && (counterArg !== undefined || tsArg !== undefined)) throw new UsageError('--counter and --ts stamp the payload: leave out --no-stamp');

  const key = readKeyFile(keyFile);
  if (!isPrivateKey(key)) throw new UsageError(`${keyFile} holds a public key: signing needs the private JWK (iot-ledger keygen --out FILE)`);
  // A payload longer than the largest envelope cannot be signed into one.
  const text = (input === '-' ? await stdinUpTo(io, MAX_ENVELOPE_BYTES, 'the payload') : (readFileOrNull(input) ?? Buffer.from(input, 'utf8'))).toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new UsageError(`the payload is not JSON: ${text.trim().slice(0, 60)}`);
  }

  let envelope: string | Uint8Array;
  if (stamp) {
    const ts = tsArg ?? Date.now();
    // As the Sign node: max(last + 1, now), here with no last counter unless one is given.
    const counter = counterArg ?? nextCounter(undefined, ts);
    envelope = signAsDevice(payload, key, counter, ts, format).envelope;
  } else {
    envelope = signEnvelope(payloadToSign(payload), key, { format, kid: keyToDid(key) });
  }

  const out = stringFlag(args, 'out');
  if (out) {
    fs.writeFileSync(out, envelope);
    io.stderr(`signed by ${keyToDid(key)}: ${format === 'cose' ? 'COSE_Sign1' : 'JWS'} written to ${out}\n`);
  } else {
    io.stdout(`${typeof envelope === 'string' ? envelope : Buffer.from(envelope).toString('hex')}\n`);
  }
  return 0;
}
