import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLedgerError } from '../../lib/errors';
import { openDb } from '../../lib/ledger/lock';
import { tempDir } from '../support/ledger';
import { projectRoot } from '../support/paths';

interface Outcome {
  code?: string;
  message?: string;
  hasCause?: boolean;
}

const lockModule = path.join(projectRoot, 'dist', 'lib', 'ledger', 'lock.js');

/** Opens the directory in another process (as `uid` when given) and reports the error's code. */
function openElsewhere(dir: string, uid?: number): Outcome {
  const script = `
    const { openDb } = require(${JSON.stringify(lockModule)});
    openDb(${JSON.stringify(dir)}, false).then(
      ({ db }) => db.close().then(() => console.log('{}')),
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message, hasCause: e.cause !== undefined })),
    );`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000, ...(uid === undefined ? {} : { uid, gid: uid }) });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Outcome;
}

describe('ledger: ERR_LEDGER_LOCKED means the LevelDB lock, nothing else', () => {
  let tmp: ReturnType<typeof tempDir>;
  let dir: string;
  beforeEach(async () => {
    tmp = tempDir('iot-ledger-lock-');
    fs.chmodSync(tmp.dir, 0o755);
    // "lock" in the path: an error message naming this path contains the word
    dir = path.join(tmp.dir, 'lock', 'ledger');
    const { db, release } = await openDb(dir, true);
    await db.close();
    release();
  });
  afterEach(() => {
    fs.chmodSync(dir, 0o755);
    tmp.cleanup();
  });

  it('a permission error under a path containing "lock" is ERR_LEDGER_IO, with its cause', async () => {
    fs.chmodSync(path.dirname(dir), 0o755);
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o444);
    fs.chmodSync(dir, 0o555);
    let got: Outcome;
    if (process.getuid?.() === 0) {
      got = openElsewhere(dir, 65534); // root ignores file modes: ask as nobody
    } else {
      try {
        const { db, release } = await openDb(dir, false);
        await db.close();
        release();
        got = {};
      } catch (e) {
        assert.ok(isLedgerError(e));
        got = { code: e.code, message: e.message, hasCause: e.cause !== undefined };
      }
    }
    assert.equal(got.code, 'ERR_LEDGER_IO', JSON.stringify(got));
    assert.match(got.message ?? '', /Permission denied/);
    assert.match(got.message ?? '', /\block\b/, 'the message does contain "lock"');
    assert.equal(got.hasCause, true);
  });

  it('the directory open in another process is ERR_LEDGER_LOCKED', async () => {
    const { db, release } = await openDb(dir, false);
    try {
      const got = openElsewhere(dir);
      assert.equal(got.code, 'ERR_LEDGER_LOCKED', JSON.stringify(got));
      assert.equal(got.hasCause, true);
    } finally {
      await db.close();
      release();
    }
  });
});
