/** Tiny benchmark helpers: run a function for a while and report operations per second. */
export interface Figure {
  name: string;
  ours: number;
  baseline: number;
  unit: string;
  target?: string;
}

export function opsPerSecond(fn: (i: number) => void, minMs = 1000): number {
  for (let i = 0; i < 200; i++) fn(i); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let k = 0; k < 100; k++) fn(n++);
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (n / elapsed) * 1000;
}

export async function opsPerSecondAsync(fn: (i: number) => Promise<void>, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await fn(i);
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

const fmt = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));

export function printFigures(title: string, figures: Figure[]): void {
  console.log(`\n${title}`);
  console.log('| measure | ours | raw baseline | ratio | target |');
  console.log('|---|---:|---:|---:|---|');
  for (const f of figures) {
    console.log(`| ${f.name} | ${fmt(f.ours)} ${f.unit} | ${fmt(f.baseline)} ${f.unit} | ${(f.ours / f.baseline).toFixed(2)} | ${f.target ?? ''} |`);
  }
}
