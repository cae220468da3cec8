// What the runtime sends the Ledger sidebar (lib/gateway/sidebar-data.ts), as far as the tab reads it.

export interface SidebarRule {
  op?: string;
  limit?: number;
  low?: number;
  high?: number;
}

export interface SidebarContract {
  termsHash: string;
  id: string;
  title: string;
  unit?: string;
  rule?: SidebarRule;
  active: boolean;
  status: string;
  last: { time: number; value: number } | null;
}

export interface SidebarFinding {
  kind?: string;
  index?: number;
  height?: number;
  time?: number;
  device?: string;
  detail?: string;
}

export interface SidebarAnchor {
  chainId: string | number;
  contract: string;
  lastConfirmed?: { size: number; block: number; blockTime: number } | null;
  pending?: { size: number; block?: number; confirmations?: number; bumps?: number } | null;
  lastError?: { code: string; message: string } | null;
}

export interface SidebarLedger {
  name: string;
  dir: string;
  size: number;
  blocks: number;
  pending: number;
  gatewayDid: string;
  verifierKey: string;
  latestBlocks: { height: number; size: number; records: number; time: number; root: string }[];
  lastAudit: { clean: boolean; size: number; at: number; first?: SidebarFinding } | null;
  witnesses: { of: number; cosigned: number; quorum: number; met: boolean; witnesses: { name: string; last?: string; size?: number }[] } | null;
  devices: { did: string; name: string; revoked: boolean; tofu: boolean }[];
  /** All devices, when the runtime lists only the first of them. */
  deviceCount?: number;
  contracts: SidebarContract[];
  security?: {
    total: number;
    byCode: Record<string, number>;
    shed: number;
    waiting: number;
    recent: { index: number; code: string; count: number; last: number; device?: string; topic?: string }[];
  };
  anchors?: SidebarAnchor[];
}

export interface SidebarReplica {
  name?: string;
  url: string;
  state: string;
  size: number;
  lag: number;
  error?: { code: string; message: string };
}

export interface SidebarData {
  ledgers?: SidebarLedger[];
  replicas?: SidebarReplica[];
}

export interface ContractSeries {
  ledger: string;
  contract: { termsHash: string; title: string; metric: string; unit?: string; rule?: SidebarRule };
  points: { index: number; time: number; value: number }[];
  events?: { time: number; type: string }[];
  excursions?: { start: number; end: number | null; violated: boolean; violatedAt?: number | null }[];
  from: number | null;
  to: number | null;
}
