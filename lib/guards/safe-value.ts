// Whether a message value can go through Node-RED safely, and a bounded summary to put in its
// place when it cannot. Node-RED deep-clones a message for a Catch node and for every extra
// wire, recursively: a payload nested 100 000 levels deep overflows the stack and takes the
// whole runtime down. Everything here walks iteratively and stops early.

/** Nesting a value may have to be forwarded (Node-RED's clone recurses once per level). */
export const MAX_CLONE_DEPTH = 100;
/** Objects, arrays and their entries walked at most; past that a value is summarised. */
export const MAX_CLONE_NODES = 1_000_000;
/** Characters of `head` in a summary. */
export const SUMMARY_HEAD = 64;

export interface ValueSummary {
  /** Why the value was replaced, e.g. an error code. */
  refused: string;
  /** typeof, or 'array', 'buffer', 'null'. */
  type: string;
  /** Bytes of a buffer, characters of a string, entries of an array or object. */
  size: number;
  /** The first bytes (hex) of a buffer, the first characters of anything else. */
  head: string;
}

const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer);

function entries(v: object): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Map) return [...v.keys(), ...v.values()];
  if (v instanceof Set) return [...v];
  return Object.values(v);
}

/**
 * Why `value` cannot be cloned safely ('deep' or 'large'), or undefined when it can. Shared
 * references and cycles are walked once (a clone keeps them shared).
 */
export function cloneRisk(value: unknown, maxDepth = MAX_CLONE_DEPTH, maxNodes = MAX_CLONE_NODES): 'deep' | 'large' | undefined {
  if (!isContainer(value)) return undefined;
  // Most values are flat (a reading, msg.device): decided without the walk's set and stack.
  if (maxDepth >= 1) {
    const items = entries(value);
    if (items.length + 1 > maxNodes) return 'large';
    let flat = true;
    for (const item of items) {
      if (isContainer(item)) {
        flat = false;
        break;
      }
    }
    if (flat) return undefined;
  }
  const seen = new Set<object>([value]);
  const stack: [object, number][] = [[value, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [object, number];
    if (depth > maxDepth) return 'deep';
    const items = entries(v);
    nodes += items.length + 1;
    if (nodes > maxNodes) return 'large';
    for (const item of items) {
      if (isContainer(item) && !seen.has(item)) {
        seen.add(item);
        stack.push([item, depth + 1]);
      }
    }
  }
  return undefined;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return 'buffer';
  return typeof v;
}

/** The first `max` characters of a JSON-like rendering of `v`, walked iteratively. */
function headOf(v: unknown, max: number): string {
  let out = '';
  const todo: unknown[] = [v];
  const literal = Symbol('literal');
  while (todo.length > 0 && out.length < max) {
    const x = todo.pop();
    if (Array.isArray(x) && x[0] === literal) {
      out += x[1] as string;
      continue;
    }
    if (typeof x === 'string') out += JSON.stringify(x.slice(0, max));
    else if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer) out += '<buffer>';
    else if (Array.isArray(x)) {
      out += '[';
      todo.push([literal, x.length > 1 ? ',…]' : ']']);
      if (x.length > 0) todo.push(x[0]);
    } else if (isContainer(x)) {
      const keys = Object.keys(x);
      out += '{';
      todo.push([literal, keys.length > 1 ? ',…}' : '}']);
      const first = keys[0];
      if (first !== undefined) {
        todo.push((x as Record<string, unknown>)[first]);
        todo.push([literal, `${JSON.stringify(first.slice(0, max))}:`]);
      }
    } else out += String(x);
  }
  return out.length > max ? out.slice(0, max) : out;
}

/** A small, flat description of `value` (type, size, first bytes) that is always safe to send. */
export function summarize(value: unknown, refused: string, max = SUMMARY_HEAD): ValueSummary {
  const type = typeOf(value);
  if (type === 'buffer') {
    const bytes = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value as ArrayBuffer);
    return { refused, type, size: bytes.length, head: Buffer.from(bytes.subarray(0, Math.ceil(max / 2))).toString('hex') };
  }
  if (typeof value === 'string') return { refused, type, size: value.length, head: value.slice(0, max) };
  const size = isContainer(value) ? (value instanceof Map || value instanceof Set ? value.size : Object.keys(value).length) : 0;
  return { refused, type, size, head: headOf(value, max) };
}

/** Error codes that mean the payload itself was refused for its size or nesting. */
const REFUSED_PAYLOAD: ReadonlySet<string> = new Set(['ERR_PAYLOAD_TOO_LARGE', 'ERR_PAYLOAD_TOO_DEEP']);

/**
 * Makes a message safe to clone, in place: a payload refused for its size or depth (`code`),
 * and any property that cannot be cloned safely, become summaries. Node-RED's http req/res
 * are left alone (Node-RED does not clone them). Returns the properties replaced.
 */
export function boundMessage(msg: Record<string, unknown>, code?: string): string[] {
  const replaced: string[] = [];
  for (const key of Object.keys(msg)) {
    if (key === 'req' || key === 'res') continue;
    const v = msg[key];
    const why = key === 'payload' && code !== undefined && REFUSED_PAYLOAD.has(code) ? code : cloneRisk(v);
    if (why === undefined) continue;
    msg[key] = summarize(v, why === 'deep' ? 'ERR_PAYLOAD_TOO_DEEP' : why === 'large' ? 'ERR_PAYLOAD_TOO_LARGE' : why);
    replaced.push(key);
  }
  return replaced;
}
