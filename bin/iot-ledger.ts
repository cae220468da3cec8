#!/usr/bin/env node
import { main } from '../lib/cli/main';

// A reader that stops early (`iot-ledger export DIR | head`) closes the pipe, and each write after
// that fails with EPIPE as an 'error' event, which would end the process with a stack trace: stop
// quietly instead, with exit 2 (what was to be printed did not all arrive), and say so for any
// other failure to write standard output.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`iot-ledger: cannot write standard output: ${err.code ?? err.message}\n`);
  process.exit(2);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`iot-ledger: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
