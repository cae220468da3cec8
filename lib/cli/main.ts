export async function main(argv: string[]): Promise<number> {
  process.stderr.write(`usage: iot-ledger <command> ...\n(${argv.join(' ')})\n`);
  return 2;
}
