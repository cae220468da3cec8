#!/usr/bin/env node
import { main } from '../lib/cli/main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`iot-ledger: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
