import { contractTopic, parseContractDocument, parseTermsList } from '../lib/contracts';
import { isLedgerError } from '../lib/errors';
import { CATCH_REPORTS_PER_SECOND, ReportBudget } from '../lib/guards/report-budget';
import { ContractSet, type ContractRunner, type Judged } from '../lib/gateway';
import { contractInfo } from './lib/contract-info';
import { contractStatus } from './lib/contract-status';
import { errorCode, finishUnreported, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { RESTORES_PER_SECOND } from '../lib/guards/overwrite-watch';
import { RetainedPublications } from './lib/retained-publications';
import { haContract } from './lib/ha-contract';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, NodeMessage, RED } from './lib/red';
import { status } from './lib/status';

/** A contract document as MQTT brings it (JSON text or bytes, parsed within bounds), or already an object. */
function documentOf(payload: unknown): unknown {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) return payload;
  return parseContractDocument(payload);
}

/** After the documents published at start, the times (ms) they are published again. */
const REPUBLISH_AFTER_MS = [5_000, 30_000];

// The runners of each deployed Contract node, by node id, for the edit dialog's endpoint.
const deployed = new Map<string, Promise<ContractRunner[]>>();

export = function register(RED: RED): void {
  function Contract(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // Without its readings a verdict cannot be re-run by an audit nor rebuilt after a restart:
    // the setting that left them out (flows made before it was taken away) is ignored.
    if (def.recordReadings === false) this.warn(RED._('iot-ledger-contract.warnings.readingsRecorded'));
    const tickMs = Math.max(1, Number(def.tickSeconds) || 5) * 1000;
    const ha = haContract(RED, this, def);
    // Terms pulled from another gateway's contract documents (retained MQTT) instead of typed in.
    const pulled = def.termsFrom === 'document';
    const originKey = typeof def.originKey === 'string' ? def.originKey.trim() : '';
    const publishDocument = def.publishDocument === true;
    const contracts = new ContractSet(useLedger(RED, this, def), () => (pulled ? [] : parseTermsList(def.terms)));
    const runners = contracts.ready;
    runners.catch((err: unknown) => {
      this.status(status.error(errorCode(err)));
      this.error(nodeError(err, RED._));
    });
    deployed.set(this.id, runners);

    const show = (): void => {
      const first = contracts.runners[0];
      if (!first) return;
      if (!first.active) {
        this.status(status.waiting(RED._('iot-ledger-contract.status.awaiting', { signed: first.signed.size, total: first.terms.parties.length })));
        return;
      }
      this.status(contractStatus(RED._, first.current(), first.terms.unit, Date.now(), first.terms.maxGapSeconds));
    };
    runners.then((list) => {
      show();
      ha.announce(list);
    }, () => undefined);
    // The documents this node keeps published. Anyone on the broker can publish over them: with
    // an MQTT in on their topics wired back to this node, one it finds overwritten is published again.
    const documentMessage = (topic: string, document: unknown): (NodeMessage | null)[] => [{ topic, retain: true, payload: document }, null];
    // At most RESTORES_PER_SECOND a second; the rest come back later, reported once a minute at most.
    const published = new RetainedPublications((topic, document) => this.send(documentMessage(topic, document)), {
      onDeferred: (deferred, pending) => this.warn(RED._('iot-ledger-contract.warnings.restoresDeferred', { deferred, pending, perSecond: RESTORES_PER_SECOND })),
    });

    // Devices pull the terms they are judged by: an active contract's document is (re)published
    // retained on every deploy and start, not only when the last party signs; and again a few
    // seconds later, because Node-RED's MQTT out drops what it gets before its broker connection
    // is up (a slow broker, a Raspberry Pi starting), and devices would find nothing retained.
    let closed = false;
    if (publishDocument) {
      runners.then(
        () =>
          contracts.activeDocuments().then(
            (docs) => {
              if (closed) return;
              for (const { runner, document } of docs) published.publish(contractTopic(runner.terms.id), document);
              published.resendAllAfter(REPUBLISH_AFTER_MS);
            },
            (err: unknown) => {
              if (errorCode(err) !== 'ERR_LEDGER_CLOSED') this.error(nodeError(err, RED._));
            },
          ),
        () => undefined, // reported above
      );
    }

    const stateOf = (r: ContractRunner) => ({
      ...r.ref,
      title: r.terms.title,
      unit: r.terms.unit ?? null,
      active: r.active,
      missingParties: r.missingParties,
      status: r.current().status,
      state: r.current(),
    });
    const eventMessages = ({ runner, events }: Judged): NodeMessage[] =>
      events.map((e) => ({ topic: `contract/${runner.terms.id}/${e.type}`, contract: runner.ref, payload: e }));

    contracts.startClock(
      tickMs,
      (judged) => {
        for (const j of judged) {
          this.send([eventMessages(j), null]);
          ha.publish(j.runner);
        }
        show();
      },
      (err) => this.error(nodeError(err, RED._)),
    );

    const handle = async (msg: NodeMessage, send: (out: (NodeMessage | NodeMessage[] | null)[]) => void): Promise<void> => {
      const signature = msg.contractSignature ?? (msg.topic === 'contract/sign' ? msg.payload : undefined);
      if (signature !== undefined) {
        const { runner, receipt, document } = await contracts.sign(signature, { contract: msg.contract, party: msg.party, withDocument: publishDocument });
        const signed = { type: 'party.signed', party: [...runner.signed].pop(), active: runner.active, missingParties: runner.missingParties };
        send([{ ...msg, topic: `contract/${runner.terms.id}/party.signed`, contract: stateOf(runner), payload: signed, ledger: receipt }, null]);
        if (document) published.publish(contractTopic(runner.terms.id), document, (topic, d) => send(documentMessage(topic, d)));
        ha.publish(runner);
        return;
      }
      const documentTopic = typeof msg.topic === 'string' && msg.topic.startsWith('iot-ledger/contract/');
      if (documentTopic && publishDocument && !pulled) {
        // What the broker holds on a documents' topic: ours, someone else's over ours, or another contract's.
        published.seen(msg.topic as string, msg.payload);
        return;
      }
      if (pulled && documentTopic) {
        const { runner, termsHash } = await contracts.pull(documentOf(msg.payload), originKey);
        send([{ ...msg, topic: `contract/${runner.terms.id}/loaded`, contract: stateOf(runner), payload: { type: 'terms.loaded', termsHash, active: runner.active } }, null]);
        return;
      }
      const device = msg.device as { id?: string; name?: string } | undefined;
      const judged = await contracts.reading(msg.payload, device);
      for (const j of judged) ha.publish(j.runner);
      const events = judged.flatMap((j) => eventMessages(j).map((m) => ({ ...msg, ...m })));
      // The reading goes on (to Record) with the verdicts attached.
      const states = judged.map((j) => stateOf(j.runner));
      msg.contract = states.length === 1 ? states[0] : states;
      send([events.length ? events : null, msg]);
    };

    // Signatures and pulled documents arrive on topics anyone can publish on: their refusals
    // reach Catch nodes at most CATCH_REPORTS_PER_SECOND a second (readings come from Verify).
    const refusals = new ReportBudget(CATCH_REPORTS_PER_SECOND);
    const fromAnyone = (msg: NodeMessage): boolean =>
      msg.contractSignature !== undefined || msg.topic === 'contract/sign' || (pulled && typeof msg.topic === 'string' && msg.topic.startsWith('iot-ledger/contract/'));

    onInput(this, RED._, (msg, send, done) => {
      handle(msg, send).then(
        () => {
          show();
          done();
        },
        (err: unknown) => {
          this.status(status.error(errorCode(err)));
          if (isLedgerError(err) && fromAnyone(msg) && !refusals.take()) {
            return finishUnreported(msg, err, RED._, () => done());
          }
          done(nodeError(err));
        },
      );
    });

    this.on('close', (_removed, done) => {
      if (deployed.get(this.id) === runners) deployed.delete(this.id);
      closed = true;
      published.close();
      contracts.close().then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('iot-ledger-contract', Contract);

  // The edit dialog shows who has signed and what a party must sign; no key material here.
  // A node not deployed yet answers {deployed: false} (a 404 would be a browser console error).
  RED.httpAdmin.get('/iot-ledger/contracts/:id', RED.auth.needsPermission('iot-ledger.read'), (req, res) => {
    const runners = deployed.get(req.params.id ?? '');
    if (!runners) {
      res.json({ deployed: false, contracts: [] });
      return;
    }
    runners.then(
      (list) => res.json({ deployed: true, contracts: list.map(contractInfo) }),
      (err: Error & { code?: string }) => res.status(500).json({ error: err.message, code: err.code }),
    );
  });
};
