// A fresh Gateway for each test of a describe(): opened in its own temporary directory before
// the test, closed and removed after it.
import { auditLedger, type AuditReport } from '../../lib/audit';
import { Gateway } from '../../lib/gateway';
import type { LedgerOptions } from '../../lib/ledger';
import { tempDir } from './ledger';

export interface GatewayPerTest {
  /** The test's gateway (another object after restart()). */
  readonly gw: Gateway;
  readonly dir: string;
  /** Closes the gateway and opens it again on the same directory. */
  restart(): Promise<Gateway>;
  /** Seals the ledger and audits it. */
  audit(): Promise<AuditReport>;
}

/** Sets up the hooks (call it inside describe()); `opts` opens the gateway each time. */
export function gatewayPerTest(opts: LedgerOptions): GatewayPerTest {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let gw: Gateway | undefined;
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the gateway is opened by the beforeEach hook of gatewayPerTest');
    return v;
  };
  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, opts);
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    tmp?.cleanup();
  });
  return {
    get gw() {
      return need(gw);
    },
    get dir() {
      return need(tmp).dir;
    },
    async restart() {
      const closing = need(gw);
      gw = undefined;
      await closing.close();
      gw = await Gateway.open(need(tmp).dir, opts);
      return gw;
    },
    async audit() {
      const g = need(gw);
      await g.ledger.seal();
      return auditLedger(need(tmp).dir, { db: g.ledger.database, workers: 0 });
    },
  };
}
