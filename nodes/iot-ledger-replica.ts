import * as nodePath from 'node:path';
import { DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_BLOCK_RECORDS, ReplicaFollower, type FollowerView } from '../lib/replica';
import { LedgerError } from '../lib/errors';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import type { Node, NodeDef, RED } from './lib/red';
import { addReplica, removeReplica } from './lib/replicas';
import { formatCount, status, type Translate } from './lib/status';
import { hasLogin } from './lib/url-login';
import { configText, wholeNumberSetting } from './lib/config-text';

function statusOf(t: Translate, v: FollowerView): ReturnType<typeof status.ok> {
  if (v.state === 'stopped-fork') return status.error(t('iot-ledger-replica.status.fork'));
  if (v.state === 'stopped-rollback') return status.error(t('iot-ledger-replica.status.rollback'));
  if (v.state === 'stopped-block-too-large') return status.error(t('iot-ledger-replica.status.tooLarge'));
  const text = t('iot-ledger-replica.status.lag', { count: formatCount(v.size), lag: formatCount(v.lag) });
  if (v.state === 'retrying') return status.warn(`${text} · ${v.error?.code ?? t('iot-ledger-replica.status.retrying')}`);
  if (v.state === 'starting') return status.waiting(t('iot-ledger-replica.status.connecting'));
  return v.lag === 0 ? status.ok(text) : status.info(text);
}

const MIB = 1024 * 1024;
/**
 * The largest limits the editor takes: 16 times the defaults (an origin you trust to seal
 * larger blocks than a ledger does); the replica holds a whole block in memory.
 */
const MAX_BLOCK_RECORDS_SETTING = 16 * DEFAULT_MAX_BLOCK_RECORDS;
const MAX_BLOCK_MIB_SETTING = (16 * DEFAULT_MAX_BLOCK_BYTES) / MIB;

export = function register(RED: RED): void {
  function Replica(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const userDir = RED.settings.userDir ?? process.cwd();
    const url = configText(def.url).trim();
    const key = configText(def.key).trim();
    const dirText = configText(def.dir).trim();
    // A login in the URL would be shown wherever the URL is (the node's messages, the sidebar): refused.
    const login = hasLogin(url);
    if (!url || !key || login) {
      const err = new LedgerError(
        'ERR_INVALID_ARGUMENT',
        login ? 'replica: put the login in the user name and password fields (credentials), not in the origin URL' : 'replica: origin URL and gateway key are required',
      );
      this.status(status.error(RED._('iot-ledger-replica.status.unconfigured')));
      if (login) this.error(err);
      onInput(this, RED._, (_msg, _send, done) => done(err));
      return;
    }
    const dir = nodePath.resolve(userDir, dirText || nodePath.join('iot-ledger', 'replicas', this.id));
    const user = this.credentials?.user;
    const password = this.credentials?.password;
    const headers: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` } : {};
    const maxBlockRecords = wholeNumberSetting(this, def.maxBlockRecords, MAX_BLOCK_RECORDS_SETTING, 'replica: Max block records', DEFAULT_MAX_BLOCK_RECORDS);
    const maxBlockMiB = wholeNumberSetting(this, def.maxBlockMiB, MAX_BLOCK_MIB_SETTING, 'replica: Max block size (MiB)', DEFAULT_MAX_BLOCK_BYTES / MIB);
    const follower = new ReplicaFollower({
      url,
      dir,
      trustedKey: key,
      intervalSeconds: Number(def.interval) || 5,
      maxBlockRecords,
      maxBlockBytes: maxBlockMiB === undefined ? undefined : maxBlockMiB * MIB,
      headers,
      ...(user ? { username: user, password: password ?? '' } : {}),
    });
    addReplica(follower);
    this.status(status.waiting(RED._('iot-ledger-replica.status.connecting')));
    follower.on('progress', (v: FollowerView) => this.status(statusOf(RED._, v)));
    follower.on('round', (r: { fetched: number }) => {
      if (r.fetched > 0) this.send({ topic: 'replica', payload: follower.view() });
    });
    let lastCode = '';
    let inputs = 0;
    follower.on('failure', (err: Error & { code?: string }) => {
      // A round run for an input reports through done(); retried fetch failures are reported once.
      if (inputs > 0 || (err.code === lastCode && err.code === 'ERR_REPLICA_FETCH')) return;
      lastCode = err.code ?? '';
      this.error(nodeError(err, RED._), { topic: 'replica', payload: follower.view() });
    });
    follower.on('round', () => (lastCode = ''));
    follower.start();

    onInput(this, RED._, async (msg, send, done) => {
      inputs++;
      try {
        await follower.catchUp().finally(() => inputs--);
        msg.payload = follower.view();
        send(msg);
        done();
      } catch (err) {
        this.status(status.error(errorCode(err)));
        done(nodeError(err));
      }
    });
    this.on('close', (_removed, done) => {
      removeReplica(follower);
      follower.close().then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('iot-ledger-replica', Replica, { credentials: { user: { type: 'text' }, password: { type: 'password' } } });
};
