// What the editor's Ledger sidebar shows: read from open gateways, public data only (no key
// material: the gateway's private key never leaves the Ledger object that holds it).
import type { AnchorStatus } from '../anchor';
import { toHex } from '../encoding/bytes';
import { CONTRACT_EVENT, CONTRACT_READING, CONTRACT_REGISTER, type ContractEventType } from '../contracts';
import type { CosignedStatus } from '../witness/client';
import type { ContractView, Gateway } from './gateway';
import type { RecordAt } from './recent-records';

export const LATEST_BLOCKS = 5;
/**
 * Devices listed at most: the list goes out once a second while records arrive, and with trust on
 * first use anyone who can publish adds devices.
 */
export const SIDEBAR_DEVICES = 100;
export const DEFAULT_SERIES_LIMIT = 200;
export const MAX_SERIES_LIMIT = 2000;
/** Records of a type scanned at most per request, so a busy ledger cannot stall the editor. */
const MAX_SCAN = 10000;

export interface SidebarBlock {
  height: number;
  /** Tree size (records in the ledger) at the end of the block. */
  size: number;
  /** Records in this block. */
  records: number;
  time: number;
  root: string;
}

export interface SidebarContract extends ContractView {
  last: { time: number; value: number } | null;
}

export interface SidebarLedger {
  name: string;
  dir: string;
  size: number;
  blocks: number;
  pending: number;
  gatewayDid: string;
  verifierKey: string;
  latestBlocks: SidebarBlock[];
  lastAudit: Gateway['lastAudit'] | null;
  /** Cosignatures of the newest block, when the ledger has witnesses. */
  witnesses: CosignedStatus | null;
  /** The first SIDEBAR_DEVICES devices, in enrolment order. */
  devices: { did: string; name: string; revoked: boolean; tofu: boolean }[];
  /** All devices known, listed or not. */
  deviceCount: number;
  contracts: SidebarContract[];
  security: SidebarSecurity;
  /** Anchor nodes on this ledger: last confirmed and pending anchor, last error. */
  anchors: AnchorStatus[];
}

/** Rejected device messages: counted since the gateway opened, and the latest security records. */
export interface SidebarSecurity {
  total: number;
  byCode: Record<string, number>;
  shed: number;
  /** Signature checks waiting now. */
  waiting: number;
  recent: SecurityItem[];
}

export interface SecurityItem {
  index: number;
  time: number;
  code: string;
  count: number;
  first: number;
  last: number;
  device?: string;
  topic?: string;
}

type Body = Record<string, unknown>;
const asBody = (v: unknown): Body => (v && typeof v === 'object' ? (v as Body) : {});

function securityItem(r: RecordAt): SecurityItem {
  const b = asBody(r.record.body);
  // Records written before aggregation stand for one rejection each.
  const count = typeof b.count === 'number' && b.count > 0 ? b.count : 1;
  const first = typeof b.first === 'number' ? b.first : r.record.time;
  const last = typeof b.last === 'number' ? b.last : r.record.time;
  const item: SecurityItem = { index: r.index, time: r.record.time, code: typeof b.code === 'string' ? b.code : 'unknown', count, first, last };
  if (r.record.device !== undefined) item.device = r.record.device;
  if (typeof b.topic === 'string') item.topic = b.topic;
  return item;
}

async function securityData(gw: Gateway): Promise<SidebarSecurity> {
  const byCode = { ...gw.stats.security };
  const recent = (await gw.recentSecurity.list()).map(securityItem);
  return { total: Object.values(byCode).reduce((n, c) => n + c, 0), byCode, shed: gw.stats.shed, waiting: gw.backlog.signatures, recent };
}

export interface SeriesEvent {
  index: number;
  time: number;
  type: ContractEventType;
}

export interface ContractSeries {
  ledger: string;
  contract: {
    id: string;
    title: string;
    termsHash: string;
    metric: string;
    unit: string | null;
    rule: unknown;
    active: boolean | null;
    status: string | null;
  };
  /** The latest recorded readings of the contract, oldest first (numeric values only). */
  points: { index: number; time: number; value: number }[];
  /** Contract events from the first point on (and the excursion open at that time), oldest first. */
  events: SeriesEvent[];
  /**
   * Excursions overlapping the points; end null while open. violatedAt: when the excursion became
   * a violation (the violation event's time, e.g. 30 s in), null while it is not one.
   */
  excursions: { start: number; end: number | null; violated: boolean; violatedAt: number | null }[];
  from: number | null;
  to: number | null;
}

/** Per open gateway: sealed blocks already shown (their checkpoints verified once, not every push). */
const shownBlocks = new WeakMap<Gateway, Map<number, SidebarBlock>>();

async function latestBlocks(gw: Gateway, n: number): Promise<SidebarBlock[]> {
  const out: SidebarBlock[] = [];
  const last = await gw.ledger.latestBlock();
  if (!last) return out;
  const shown = shownBlocks.get(gw) ?? new Map<number, SidebarBlock>();
  const kept = new Map<number, SidebarBlock>();
  for (let h = last.height; h >= 0 && out.length < n; h--) {
    let block = shown.get(h);
    if (!block) {
      const b = h === last.height ? last : await gw.ledger.block(h);
      const hd = b.header;
      block = { height: b.height, size: hd.size, records: hd.size - hd.first, time: hd.time, root: toHex(hd.root) };
    }
    kept.set(h, block);
    out.push({ ...block });
  }
  shownBlocks.set(gw, kept);
  return out;
}

async function ledgerData(gw: Gateway): Promise<SidebarLedger> {
  const l = gw.ledger;
  const contracts: SidebarContract[] = gw.contractViews();
  return {
    name: l.name,
    dir: l.dir,
    size: l.size,
    blocks: l.height,
    pending: l.pending,
    gatewayDid: l.gatewayDid,
    verifierKey: l.verifierKey,
    latestBlocks: await latestBlocks(gw, LATEST_BLOCKS),
    lastAudit: gw.lastAudit ?? null,
    witnesses: gw.witnesses ? await gw.witnesses.status() : null,
    devices: gw.devices.first(SIDEBAR_DEVICES).map((d) => ({ did: d.did, name: d.name, revoked: d.revokedAt !== undefined, tofu: d.tofu === true })),
    deviceCount: gw.devices.size,
    contracts,
    security: await securityData(gw),
    anchors: [...gw.anchors.values()].map((view) => view()),
  };
}

/** One entry per open ledger, in the order they were opened; closed ledgers are skipped. */
export async function sidebarData(gateways: Gateway[]): Promise<SidebarLedger[]> {
  const out: SidebarLedger[] = [];
  for (const gw of gateways) {
    if (gw.ledger.closed) continue;
    out.push(await ledgerData(gw));
  }
  return out;
}

/** The terms of a contract: from the running contract, else from its contract.register record. */
async function describeContract(gw: Gateway, termsHash: string): Promise<ContractSeries['contract'] | null> {
  const view = gw.contractView(termsHash);
  if (view)
    return { id: view.id, title: view.title, termsHash, metric: view.metric, unit: view.unit ?? null, rule: view.rule, active: view.active, status: view.status };
  let scanned = 0;
  for await (const r of gw.ledger.byType(CONTRACT_REGISTER, { reverse: true })) {
    if (++scanned > MAX_SCAN) break;
    const b = asBody(r.record.body);
    if (b.termsHash !== termsHash) continue;
    const t = asBody(b.terms);
    return {
      id: String(t.id ?? b.contract),
      title: String(t.title ?? b.contract),
      termsHash,
      metric: typeof t.metric === 'string' ? t.metric : '',
      unit: typeof t.unit === 'string' ? t.unit : null,
      rule: t.rule ?? null,
      active: null,
      status: null,
    };
  }
  return null;
}

/** The points a series asked for with `limit` holds at most: 1 to MAX_SERIES_LIMIT, DEFAULT_SERIES_LIMIT for what is no number. */
export function seriesLimit(limit: number): number {
  return Math.max(1, Math.min(MAX_SERIES_LIMIT, Math.floor(limit) || DEFAULT_SERIES_LIMIT));
}

/**
 * The latest `limit` readings of a contract and the events to mark on them. Returns null when
 * the ledger knows no contract with this terms hash.
 */
export async function contractSeries(gw: Gateway, termsHash: string, limit = DEFAULT_SERIES_LIMIT): Promise<ContractSeries | null> {
  const contract = await describeContract(gw, termsHash);
  if (!contract) return null;
  const max = seriesLimit(limit);
  const ledger = gw.ledger;

  const points: ContractSeries['points'] = [];
  let scanned = 0;
  for await (const r of ledger.byType(CONTRACT_READING, { reverse: true })) {
    if (++scanned > MAX_SCAN) break;
    const b = asBody(r.record.body);
    if (b.termsHash !== termsHash) continue;
    const input = asBody(b.input);
    if (typeof input.time !== 'number' || typeof input.value !== 'number' || !Number.isFinite(input.value)) continue;
    points.push({ index: r.index, time: input.time, value: input.value });
    if (points.length >= max) break;
  }
  points.reverse();
  const [first] = points;
  const from = first ? first.time : null;
  const firstIndex = first ? first.index : 0;

  // Events from the first point on; before it only what tells whether an excursion was open.
  const events: SeriesEvent[] = [];
  scanned = 0;
  let lookBack = 200;
  for await (const r of ledger.byType(CONTRACT_EVENT, { reverse: true })) {
    if (++scanned > MAX_SCAN) break;
    const b = asBody(r.record.body);
    if (b.termsHash !== termsHash) continue;
    const e = asBody(b.event);
    if (typeof e.type !== 'string' || typeof e.time !== 'number' || e.type === 'reading.rejected') continue;
    const event = { index: r.index, time: e.time, type: e.type as ContractEventType };
    if (r.index > firstIndex && (from === null || e.time >= from)) {
      events.push(event);
      if (events.length >= 4 * max) break;
      continue;
    }
    // Before the first point: an excursion that ended there has nothing inside the window.
    if (e.type === 'excursion.ended' || e.type === 'compliance.restored') break;
    if (e.type === 'excursion.started' || e.type === 'violation') {
      events.push(event);
      if (e.type === 'excursion.started') break;
    }
    if (--lookBack <= 0) break;
  }
  events.reverse();

  const excursions: ContractSeries['excursions'] = [];
  let open: ContractSeries['excursions'][number] | null = null;
  for (const e of events) {
    if (e.type === 'excursion.started') {
      open = { start: e.time, end: null, violated: false, violatedAt: null };
      excursions.push(open);
    } else if (e.type === 'violation') {
      if (!open) {
        open = { start: from ?? e.time, end: null, violated: true, violatedAt: e.time };
        excursions.push(open);
      }
      open.violated = true;
      open.violatedAt ??= e.time;
    } else if (e.type === 'excursion.ended') {
      if (open) open.end = e.time;
      else excursions.push({ start: from ?? e.time, end: e.time, violated: false, violatedAt: null });
      open = null;
    }
  }
  const last = points[points.length - 1];
  const to = last ? Math.max(last.time, ...events.map((e) => e.time)) : null;
  return { ledger: ledger.name, contract, points, events, excursions, from, to };
}
