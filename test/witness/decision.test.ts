import * as assert from 'node:assert/strict';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { consistencyProof, EMPTY_ROOT, leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { verifierKeyString } from '../../lib/note/note';
import { cosignatureVerifier, logVerifier, parseWitnessKey, witnessVerifierKey } from '../../lib/witness/cosignature';
import {
  decideAddCheckpoint,
  parseSubmission,
  rejectUnparsed,
  type Decision,
  type LatestCheckpoint,
  type WitnessedLog,
} from '../../lib/witness/decision';
import { formatAddCheckpoint, parseAddCheckpoint, parseTlogSize } from '../../lib/witness/request';
import { openNote } from '../../lib/note/note-open';

const ORIGIN = 'gw.example/cold-room';

describe('add-checkpoint request body (C2SP tlog-witness)', () => {
  it('parses the example of the spec', () => {
    const body =
      'old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';
    const req = parseAddCheckpoint(body);
    assert.equal(req.oldSize, 20852014);
    assert.equal(req.proof.length, 4);
    assert.ok(req.checkpoint.startsWith('example.com/behind-the-sofa\n20852163\n'));
    assert.equal(formatAddCheckpoint(req), body);
    const sub = parseSubmission(body);
    assert.equal(sub.checkpoint.size, 20852163);
  });

  it('refuses malformed bodies with ERR_WITNESS_REQUEST', () => {
    const cp = 'o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 o AAAAAAAA\n';
    const h = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
    for (const body of ['', 'old 1', 'old 01\n\n' + cp, 'old -1\n\n' + cp, 'new 1\n\n' + cp, 'old 1\nnot base64!\n\n' + cp, 'old 1\nAAAA\n\n' + cp, 'old 1\n\n', `old 1\n${h.repeat(64)}\n${cp}`, 'old 1\n' + h])
      assert.throws(() => parseAddCheckpoint(body), (e: unknown) => isLedgerError(e, 'ERR_WITNESS_REQUEST'), JSON.stringify(body.slice(0, 40)));
    assert.equal(parseAddCheckpoint(`old 1\n${h.repeat(63)}\n${cp}`).proof.length, 63);
  });

  it('reads text/x.tlog.size bodies', () => {
    assert.equal(parseTlogSize('42\n'), 42);
    for (const b of ['42', '042\n', '\n', 'x\n', '1 2\n']) assert.throws(() => parseTlogSize(b));
  });
});

describe('witness decision (every add-checkpoint status)', () => {
  const gw = generateKey('Ed25519');
  const other = generateKey('Ed25519');
  const wkey = generateKey('Ed25519');
  const cosigner = { name: 'witness.example/w1', key: wkey };
  const log: WitnessedLog = { origin: ORIGIN, verifiers: [logVerifier(verifierKeyString(ORIGIN, gw), ORIGIN)] };
  const leaves = Array.from({ length: 20 }, (_, i) => leafHash(Uint8Array.of(i)));
  const forkLeaves = leaves.map((l, i) => (i >= 5 ? leafHash(Uint8Array.of(100 + i)) : l));
  const cpAt = (size: number, ls = leaves, key = gw, origin = ORIGIN) =>
    signCheckpoint({ origin, size, root: rootFromLeafHashes(ls.slice(0, size)), extensions: ['ext/header-hash abc'] }, origin, key);
  const submit = (oldSize: number, size: number, latest?: LatestCheckpoint, opts: { ls?: Uint8Array[]; proof?: Uint8Array[]; key?: typeof gw; origin?: string } = {}): Decision => {
    const ls = opts.ls ?? leaves;
    const proof = opts.proof ?? (oldSize > 0 && oldSize <= size ? consistencyProof(ls, oldSize, size) : []);
    const body = formatAddCheckpoint({ oldSize, proof, checkpoint: cpAt(size, ls, opts.key, opts.origin) });
    let sub;
    try {
      sub = parseSubmission(body);
    } catch (err) {
      return rejectUnparsed(err);
    }
    return decideAddCheckpoint({ submission: sub, log: sub.checkpoint.origin === ORIGIN ? log : undefined, latest, cosigner, now: 1700000000 });
  };
  const accept = (d: Decision): LatestCheckpoint => {
    assert.equal(d.status, 200, 'reason' in d ? d.reason : '');
    return (d).latest;
  };

  it('200: cosigns the first checkpoint from old 0, then a consistent larger one; the cosignature verifies on the note', () => {
    const d1 = submit(0, 5);
    const l1 = accept(d1);
    assert.equal(l1.size, 5);
    const d2 = submit(5, 12, l1);
    const l2 = accept(d2);
    assert.equal(l2.size, 12);
    const body = (d2 as Extract<Decision, { status: 200 }>).body;
    assert.match(body, /^\u2014 witness\.example\/w1 [A-Za-z0-9+/=]+\n$/);
    const v = cosignatureVerifier(parseWitnessKey(witnessVerifierKey(cosigner.name, wkey)));
    assert.equal(openNote(cpAt(12) + body, [log.verifiers[0], v]).verified.length, 2);
    assert.deepEqual(v.timestamps, [1700000000]);
    // The stored latest carries the witness's cosignature (what audit --from takes).
    assert.ok(l2.checkpoint.endsWith(body));
    // Same checkpoint again (old = size, same root): cosigned again.
    accept(submit(12, 12, l2));
  });

  it('400: old size above the checkpoint size, and malformed bodies', () => {
    const l = accept(submit(0, 5));
    const d = submit(9, 5, l);
    assert.equal(d.status, 400);
    const bad = decideOrReject('old 1\n\nnot a checkpoint\n\n\u2014 x AAAAAAAA\n');
    assert.equal(bad.status, 400);
  });

  it('403: no signature by a trusted key (unsigned by the log, or signed only by others)', () => {
    assert.equal(submit(0, 5, undefined, { key: other }).status, 403);
  });

  it('404: unknown origin', () => {
    assert.equal(submit(0, 5, undefined, { key: other, origin: 'someone.else/log' }).status, 404);
  });

  it('409: old size is not the latest cosigned size; the body size is the latest', () => {
    const l = accept(submit(0, 5));
    const d = submit(3, 10, l);
    assert.equal(d.status, 409);
    assert.equal((d as { size: number }).size, 5);
    const fresh = submit(4, 10);
    assert.equal(fresh.status, 409);
    assert.equal((fresh as { size: number }).size, 0);
  });

  it('409 with equivocation evidence: same size, another root', () => {
    const l = accept(submit(0, 8));
    const d = submit(8, 8, l, { ls: forkLeaves });
    assert.equal(d.status, 409);
    assert.equal(d.evidence?.kind, 'equivocation');
    assert.equal(d.evidence?.latest, l.checkpoint);
    assert.equal(d.evidence?.submitted, cpAt(8, forkLeaves));
    // Also when the forked checkpoint comes with a stale old size.
    const stale = submit(2, 8, l, { ls: forkLeaves });
    assert.equal(stale.status, 409);
    assert.equal(stale.evidence?.kind, 'equivocation');
  });

  it('409 (C2SP: old size equal to the checkpoint size, another root) for a size-0 checkpoint whose root is not the empty tree\'s, before anything was cosigned; the empty tree itself is cosigned', () => {
    // Before it cosigns anything, the witness holds size 0, the empty tree.
    const empty = (root: Uint8Array): Decision => {
      const body = formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: signCheckpoint({ origin: ORIGIN, size: 0, root, extensions: [] }, ORIGIN, gw) });
      return decideAddCheckpoint({ submission: parseSubmission(body), log, latest: undefined, cosigner, now: 1700000000 });
    };
    const d = empty(leaves[0]);
    assert.equal(d.status, 409, 'reason' in d ? d.reason : '');
    assert.equal((d as { size: number }).size, 0);
    assert.equal(d.evidence, undefined);
    const ok = empty(EMPTY_ROOT);
    assert.equal(accept(ok).size, 0);
    assert.equal((ok as { unchanged: boolean }).unchanged, false);
  });

  it('422 without evidence: a proof that does not verify (fork), a wrong proof, a non-empty proof from 0', () => {
    const l = accept(submit(0, 8));
    // The proof lines are not signed: that they fail shows nothing about the log.
    const fork = submit(8, 15, l, { ls: forkLeaves });
    assert.equal(fork.status, 422);
    assert.equal(fork.evidence, undefined);
    // A genuine newer checkpoint with junk lines (anyone who saw it can send it): no evidence either.
    const junk = submit(8, 15, l, { proof: consistencyProof(leaves, 8, 15).slice(1) });
    assert.equal(junk.status, 422);
    assert.equal(junk.evidence, undefined);
    assert.equal(accept(submit(8, 15, l)).size, 15);
    assert.equal(submit(0, 8, undefined, { proof: [leaves[0]] }).status, 422);
  });

  it('422 without evidence: the checkpoint already cosigned, sent again with proof lines (anyone can, it is public)', () => {
    const l = accept(submit(0, 8));
    const d = submit(8, 8, l, { proof: [leaves[3]] });
    assert.equal(d.status, 422);
    assert.equal(d.evidence, undefined);
  });

  function decideOrReject(body: string): Decision {
    try {
      return decideAddCheckpoint({ submission: parseSubmission(body), log, latest: undefined, cosigner, now: 1 });
    } catch (err) {
      return rejectUnparsed(err);
    }
  }
});
