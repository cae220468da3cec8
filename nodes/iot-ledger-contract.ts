import { contractDocument, contractTopic, verifyContractDocument } from '../lib/contracts/pull';
import { LedgerError } from '../lib/errors';
import { ContractRunner, type Gateway } from '../lib/gateway';
import { parseTermsList, subjectMatches } from './lib/contract-terms';
import { contractInfo } from './lib/contract-info';
import { contractStatus } from './lib/contract-status';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { haContract } from './lib/ha-contract';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, NodeMessage, RED } from './lib/red';
import { status } from './lib/status';

// The runners of each deployed Contract node, by node id, for the edit dialog's endpoint.
const deployed = new Map<string, Promise<ContractRunner[]>>();

export = function register(RED: RED): void {
  function Contract(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const recordReadings = def.recordReadings !== false;
    const tickMs = Math.max(1, Number(def.tickSeconds) || 5) * 1000;
    const ha = haContract(RED, this, def);
    // What this node put into the shared gateway's contract table, taken out again on close
    // (also when the node closes while its runners are still loading).
    let closed = false;
    let unregister: (() => void) | undefined;
    let runners: Promise<ContractRunner[]>;
    // Terms pulled from another gateway's contract documents (retained MQTT) instead of typed in.
    const pulled = def.termsFrom === 'document';
    const originKey = typeof def.originKey === 'string' ? def.originKey.trim() : '';
    const publishDocument = def.publishDocument === true;
    try {
      const termsList = pulled ? [] : parseTermsList(def.terms);
      runners = gateway().then(async (gw: Gateway) => {
        const list = await Promise.all(termsList.map((t) => ContractRunner.load(gw, t)));
        if (closed) return list;
        const views = list.map((r) => [r.ref.termsHash, () => r.view()] as const);
        for (const [hash, view] of views) gw.contracts.set(hash, view);
        unregister = () => {
          for (const [hash, view] of views) if (gw.contracts.get(hash) === view) gw.contracts.delete(hash);
        };
        return list;
      });
    } catch (err) {
      runners = Promise.reject(err);
    }
    runners.catch((err: unknown) => {
      this.status(status.error(errorCode(err)));
      this.error(nodeError(err));
    });
    deployed.set(this.id, runners);

    const show = (list: ContractRunner[]): void => {
      const first = list[0];
      if (!first) return;
      if (!first.active) {
        this.status(status.waiting(RED._('iot-ledger-contract.status.awaiting', { signed: first.signed.size, total: first.terms.parties.length })));
        return;
      }
      this.status(contractStatus(RED._, first.current(), first.terms.unit, Date.now(), first.terms.maxGapSeconds));
    };
    runners.then(show, () => undefined);
    runners.then((list) => {
      if (!closed) ha.announce(list);
    }, () => undefined);

    const stateOf = (r: ContractRunner) => ({
      ...r.ref,
      title: r.terms.title,
      unit: r.terms.unit ?? null,
      active: r.active,
      missingParties: r.missingParties,
      status: r.current().status,
      state: r.current(),
    });
    const eventMessages = (r: ContractRunner, events: { type: string }[]): NodeMessage[] =>
      events.map((e) => ({ topic: `contract/${r.terms.id}/${e.type}`, contract: r.ref, payload: e }));

    // Serialise work so evaluation order equals ledger order.
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const next = queue.then(fn);
      queue = next.catch(() => undefined);
      return next;
    };

    const timer = setInterval(() => {
      serial(async () => {
        const list = await runners;
        const now = Date.now();
        for (const r of list) {
          const { events, active } = await r.tick(now);
          if (active && events.length) {
            this.send([eventMessages(r, events), null]);
            ha.publish(r);
          }
        }
        show(list);
      }).catch((err) => this.error(nodeError(err)));
    }, tickMs);
    timer.unref?.();

    onInput(this, (msg, send, done) => {
      serial(async () => {
        const list = await runners;
        const signature = msg.contractSignature ?? (msg.topic === 'contract/sign' ? msg.payload : undefined);
        if (signature !== undefined) {
          if (typeof signature !== 'string' && !(signature instanceof Uint8Array))
            throw new LedgerError('ERR_MALFORMED_ENVELOPE', 'a contract signature must be a JWS string or COSE bytes');
          const target = list.find((r) => !msg.contract || msg.contract === r.terms.id) ?? list[0];
          const receipt = await target.sign(signature, typeof msg.party === 'string' ? msg.party : undefined);
          const signed = { type: 'party.signed', party: [...target.signed].pop(), active: target.active, missingParties: target.missingParties };
          send([{ ...msg, topic: `contract/${target.terms.id}/party.signed`, contract: stateOf(target), payload: signed, ledger: receipt }, null]);
          if (publishDocument) {
            const gw = await gateway();
            const doc = await contractDocument(gw.ledger, target.ref.termsHash);
            if (doc) send([{ topic: contractTopic(target.terms.id), retain: true, payload: doc }, null]);
          }
          ha.publish(target);
          show(list);
          return;
        }
        if (pulled && typeof msg.topic === 'string' && msg.topic.startsWith('iot-ledger/contract/')) {
          if (!originKey) throw new LedgerError('ERR_INVALID_ARGUMENT', 'pulling terms needs the origin gateway key');
          const doc = typeof msg.payload === 'string' || msg.payload instanceof Uint8Array ? JSON.parse(Buffer.from(msg.payload as never).toString('utf8')) : msg.payload;
          const v = verifyContractDocument(doc, originKey);
          let runner = list.find((r) => r.ref.termsHash === v.termsHash);
          if (!runner) {
            const gw = await gateway();
            runner = await ContractRunner.load(gw, v.terms);
            const loaded = runner;
            gw.contracts.set(loaded.ref.termsHash, () => loaded.view());
            list.push(loaded);
          }
          // The parties' signatures come with the document: record them here too.
          for (const party of v.signed) {
            if (runner.signed.has(party)) continue;
            const envelope = v.envelopes[party];
            if (envelope !== undefined) await runner.sign(envelope, party);
          }
          send([{ ...msg, topic: `contract/${runner.terms.id}/loaded`, contract: stateOf(runner), payload: { type: 'terms.loaded', termsHash: v.termsHash, active: runner.active } }, null]);
          show(list);
          return;
        }
        const device = msg.device as { id?: string; name?: string } | undefined;
        const now = Date.now();
        const events: NodeMessage[] = [];
        const judged: ReturnType<typeof stateOf>[] = [];
        for (const r of list) {
          if (!subjectMatches(r.terms, device)) continue;
          const ev = await r.reading(msg.payload, now, device?.id, recordReadings);
          if (!ev.active) continue;
          events.push(...eventMessages(r, ev.events).map((m) => ({ ...msg, ...m })));
          judged.push(stateOf(r));
          ha.publish(r);
        }
        // The reading goes on (to Record) with the verdicts attached.
        msg.contract = judged.length === 1 ? judged[0] : judged;
        send([events.length ? events : null, msg]);
        show(list);
      }).then(
        () => done(),
        (err: unknown) => {
          this.status(status.error(errorCode(err)));
          done(nodeError(err));
        },
      );
    });

    this.on('close', (_removed, done) => {
      closed = true;
      unregister?.();
      unregister = undefined;
      clearInterval(timer);
      if (deployed.get(this.id) === runners) deployed.delete(this.id);
      queue.then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('iot-ledger-contract', Contract);

  // The edit dialog shows who has signed and what a party must sign; no key material here.
  // A node not deployed yet answers {deployed: false} (a 404 would be a browser console error).
  RED.httpAdmin.get('/iot-ledger/contracts/:id', RED.auth.needsPermission('iot-ledger.read'), (req, res) => {
    const runners = deployed.get(req.params.id);
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
