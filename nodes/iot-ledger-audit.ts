import { auditLedger, type AuditReport } from '../lib/audit';
import { auditStatusText } from './lib/audit-status';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, RED } from './lib/red';
import { status } from './lib/status';

export = function register(RED: RED): void {
  function Audit(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const incremental = def.mode === 'incremental';
    const intervalMin = Number(def.interval) || 0;
    let trusted: string | undefined; // the checkpoint of the last clean audit, for incremental runs
    let running: Promise<AuditReport> | undefined;
    let timer: NodeJS.Timeout | undefined;

    const run = async (): Promise<AuditReport> => {
      const gw = await gateway();
      await gw.ledger.seal();
      this.status(status.info(RED._('iot-ledger-audit.status.running')));
      const db = gw.ledger.database;
      // The witnesses this ledger sends to: their stored cosignatures are checked too.
      const witnesses = gw.witnesses?.witnessKeys ?? [];
      const report = await auditLedger(gw.ledger.dir, { db, witnesses, ...(incremental && trusted ? { from: trusted } : {}) });
      if (report.clean) trusted = (await gw.ledger.latestBlock())?.checkpoint;
      gw.lastAudit = { at: Date.now(), clean: report.clean, size: report.size, first: report.findings[0] };
      this.status(report.clean ? status.ok(auditStatusText(RED._, report)) : status.error(auditStatusText(RED._, report)));
      return report;
    };
    const runOnce = (): Promise<AuditReport> => {
      running ??= run().finally(() => {
        running = undefined;
      });
      return running;
    };

    if (intervalMin > 0) {
      timer = setInterval(() => {
        runOnce().then(
          (report) => this.send({ topic: 'audit', payload: report }),
          (err) => this.error(nodeError(err, RED._)),
        );
      }, intervalMin * 60_000);
    }

    onInput(this, RED._, async (msg, send, done) => {
      try {
        msg.payload = await runOnce();
        send(msg);
        done();
      } catch (err) {
        this.status(status.error(errorCode(err)));
        done(nodeError(err));
      }
    });
    this.on('close', (_removed, done) => {
      if (timer) clearInterval(timer);
      (running ?? Promise.resolve()).then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('iot-ledger-audit', Audit);
};
