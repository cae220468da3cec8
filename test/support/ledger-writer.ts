// A test-only ledger writer that lays keys out exactly as docs/FORMAT.md says, written
// separately from the audit's reader. It exists to build ledgers (and damaged ledgers)
// for the audit's tests without depending on the ledger store.
import { ClassicLevel } from 'classic-level';
import { signCheckpoint } from '../../lib/checkpoint';
import { encodeCbor, type CborValue } from '../../lib/codec';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { sha256 } from '../../lib/hash';
import { CompactRange } from '../../lib/merkle';
import { verifierKeyString } from '../../lib/note';

export interface WriterOptions {
  name?: string;
  gatewayKey?: PrivateKey;
  /** Seal a block after this many records (default 10). */
  blockRecords?: number;
  /** Time of the first record (ms); later ones add a second each unless given. */
  startTime?: number;
}

export interface AppendInput {
  type: string;
  body?: CborValue;
  device?: string;
  envelope?: string | Uint8Array;
  time?: number;
}

type Op = { type: 'put'; key: Buffer; value: Buffer };

const u64 = (x: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(x / 2 ** 32), 0);
  b.writeUInt32BE(x % 2 ** 32, 4);
  return b;
};
const key = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

export const keys = {
  meta: (): Buffer => key('mmeta'),
  head: (): Buffer => key('h'),
  record: (i: number): Buffer => key('r', u64(i)),
  node: (level: number, i: number): Buffer => key('n', [level], u64(i)),
  block: (h: number): Buffer => key('b', u64(h)),
  device: (did: string, i: number): Buffer => key('d', did, [0], u64(i)),
  type: (type: string, i: number): Buffer => key('t', type, [0], u64(i)),
  time: (t: number, i: number): Buffer => key('s', u64(t), u64(i)),
};

export class TestLedgerWriter {
  readonly name: string;
  readonly gatewayKey: PrivateKey;
  readonly db: ClassicLevel<Buffer, Buffer>;
  readonly #tree = new CompactRange();
  readonly #blockRecords: number;
  #time: number;
  #height = 0;
  #blockFirst = 0;
  #prev: Uint8Array = new Uint8Array(32);
  /** Signed checkpoint notes of the sealed blocks, by height. */
  readonly checkpoints: string[] = [];

  private constructor(dir: string, opts: WriterOptions) {
    this.name = opts.name ?? 'test.ledger';
    this.gatewayKey = opts.gatewayKey ?? generateKey('Ed25519');
    this.#blockRecords = opts.blockRecords ?? 10;
    this.#time = opts.startTime ?? 1764000000000;
    this.db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  }

  static async create(dir: string, opts: WriterOptions = {}): Promise<TestLedgerWriter> {
    const w = new TestLedgerWriter(dir, opts);
    await w.db.open();
    const meta = encodeCbor({
      v: 1,
      name: w.name,
      gateway: keyToDid(w.gatewayKey),
      verifier: w.verifierKey,
      created: w.#time,
    });
    await w.db.batch([{ type: 'put', key: keys.meta(), value: Buffer.from(meta) }, w.#headOp()]);
    return w;
  }

  get verifierKey(): string {
    return verifierKeyString(this.name, this.gatewayKey);
  }

  get did(): string {
    return keyToDid(this.gatewayKey);
  }

  get size(): number {
    return this.#tree.size;
  }

  get height(): number {
    return this.#height;
  }

  #headOp(): Op {
    const fields = { size: this.#tree.size, height: this.#height, blockFirst: this.#blockFirst };
    const value = encodeCbor({ ...fields, hash: sha256(encodeCbor(fields)) });
    return { type: 'put', key: keys.head(), value: Buffer.from(value) };
  }

  /** Appends a record (and seals a block every blockRecords records); returns its index. */
  async append(input: AppendInput): Promise<number> {
    const ops: Op[] = [];
    const index = this.#stage(input, ops);
    ops.push(this.#headOp());
    await this.db.batch(ops);
    if (this.#tree.size - this.#blockFirst >= this.#blockRecords) await this.seal();
    return index;
  }

  /** Appends many records, one LevelDB batch per block (for building large ledgers quickly). */
  async appendMany(inputs: Iterable<AppendInput>): Promise<void> {
    let ops: Op[] = [];
    for (const input of inputs) {
      this.#stage(input, ops);
      if (this.#tree.size - this.#blockFirst >= this.#blockRecords || ops.length > 20000) {
        ops.push(this.#headOp());
        await this.db.batch(ops);
        ops = [];
        if (this.#tree.size - this.#blockFirst >= this.#blockRecords) await this.seal();
      }
    }
    if (ops.length > 0) {
      ops.push(this.#headOp());
      await this.db.batch(ops);
    }
  }

  #stage(input: AppendInput, ops: Op[]): number {
    const index = this.#tree.size;
    const time = input.time ?? (this.#time += 1000);
    const record: Record<string, CborValue> = { v: 1, type: input.type, time };
    if (input.device !== undefined) record.device = input.device;
    if (input.body !== undefined) record.body = input.body;
    if (input.envelope !== undefined) record.envelope = input.envelope;
    const bytes = encodeCbor(record);
    const leaf = sha256(Uint8Array.of(0), bytes);
    ops.push({ type: 'put', key: keys.record(index), value: Buffer.concat([leaf, bytes]) });
    this.#tree.append(leaf, (id, hash) => {
      const k = keys.node(id.level, id.index);
      ops.push({ type: 'put', key: k, value: Buffer.concat([hash, sha256(k, hash).subarray(0, 4)]) });
    });
    const empty = Buffer.alloc(0);
    if (input.device !== undefined) ops.push({ type: 'put', key: keys.device(input.device, index), value: empty });
    ops.push({ type: 'put', key: keys.type(input.type, index), value: empty });
    ops.push({ type: 'put', key: keys.time(time, index), value: empty });
    return index;
  }

  /** Seals the open block (if it has records): header, hash and signed checkpoint. */
  async seal(): Promise<void> {
    const size = this.#tree.size;
    if (size === this.#blockFirst) return;
    const root = this.#tree.root();
    const header = encodeCbor({ v: 1, height: this.#height, prev: this.#prev, first: this.#blockFirst, size, root, time: this.#time });
    const hash = sha256(header);
    const checkpoint = signCheckpoint({ origin: this.name, size, root, extensions: [] }, this.name, this.gatewayKey);
    const blockOp: Op = { type: 'put', key: keys.block(this.#height), value: Buffer.from(encodeCbor({ header, hash, checkpoint })) };
    this.checkpoints[this.#height] = checkpoint;
    this.#prev = hash;
    this.#height++;
    this.#blockFirst = size;
    await this.db.batch([blockOp, this.#headOp()]);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
