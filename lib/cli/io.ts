import * as fs from 'node:fs';

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => Promise<Buffer>;
  isTTY: boolean;
}

export const processIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  },
  isTTY: Boolean(process.stderr.isTTY),
};

export function readFileOrNull(file: string): Buffer | null {
  try {
    return fs.statSync(file).isFile() ? fs.readFileSync(file) : null;
  } catch {
    return null;
  }
}
