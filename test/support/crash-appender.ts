// Child process for test/ledger/crash.test.ts: appends without end from several concurrent
// appenders and prints each receipt (one write(2) per line) once its append has resolved.
// The test kills it with SIGKILL at random moments.
//
// usage: node crash-appender.js DIR KEY_FILE NAME [CONCURRENCY]
import * as fs from 'node:fs';
import { generateKey, keyToDid } from '../../lib/crypto';
import { readPrivateKeyFile } from '../../lib/crypto/keyfile';
import { Ledger, type Receipt } from '../../lib/ledger';

async function main(): Promise<void> {
  const [dir, keyFile, name, concurrencyArg] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg ?? 8);
  const ledger = await Ledger.open(dir, { name, gatewayKey: readPrivateKeyFile(keyFile), blockRecords: 64, blockSeconds: 0.05 });
  const devices = [keyToDid(generateKey('Ed25519')), keyToDid(generateKey('Ed25519'))];
  const print = (r: Receipt): void => void fs.writeSync(1, `${JSON.stringify(r)}\n`);
  const appender = async (w: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const body = { w, i, celsius: -20 - (i % 50) / 10, pad: 'x'.repeat(i % 200) };
      if (i % 7 === 3) {
        const rs = await ledger.appendMany([
          { type: 'reading', device: devices[i % 2], body },
          { type: 'note', body: { w, i, many: true } },
        ]);
        rs.forEach(print);
      } else print(await ledger.append({ type: 'reading', device: devices[w % 2], body }));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => appender(w)));
}

main().catch((err: unknown) => {
  process.stderr.write(`crash-appender: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(3);
});
