import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, RequestGate } from '../lib/guards/request-gate';

// The address a request counts against in a RequestGate's per-client bounds.
describe('RequestGate: clientAddress', () => {
  const req = (remoteAddress: string | undefined, ip?: string): IncomingMessage & { ip?: string } => ({ socket: { remoteAddress }, ip }) as unknown as IncomingMessage & { ip?: string };

  it("is Express's req.ip when there is one (its trust proxy setting), else the socket's address", () => {
    assert.equal(clientAddress(req('10.0.0.1', '192.0.2.7')), '192.0.2.7');
    assert.equal(clientAddress(req('10.0.0.1')), '10.0.0.1');
    assert.equal(clientAddress(req('10.0.0.1', '')), '10.0.0.1');
    assert.equal(clientAddress(req(undefined)), '');
  });

  it('counts an IPv4-mapped address as its IPv4 address and an IPv6 address as its /64', () => {
    assert.equal(clientAddress(req('::ffff:192.0.2.7')), '192.0.2.7');
    assert.equal(clientAddress(req('2001:db8:1:2:3:4:5:6')), '2001:db8:1:2::/64');
    assert.equal(clientAddress(req('2001:DB8:1:2::9')), '2001:db8:1:2::/64');
    assert.equal(clientAddress(req('2001:db8::1')), '2001:db8:0:0::/64');
    assert.equal(clientAddress(req('fe80::1%eth0')), 'fe80:0:0:0::/64');
    assert.equal(clientAddress(req('::1')), '0:0:0:0::/64');
    assert.equal(clientAddress(req('1::2:3:4:5:1.2.3.4')), '1:0:2:3::/64');
  });
});

describe('RequestGate: limits', () => {
  it('refuses a limit it does not have (the timeout was sendTimeoutMs before it was timeoutMs) and a value that is not a positive integer', () => {
    const gate = new RequestGate({ maxActive: 4, maxWaiting: 8, maxActivePerClient: 2, maxPerClient: 4, timeoutMs: 1000 }, { what: 'test requests' });
    assert.throws(() => gate.setLimits({ sendTimeoutMs: 300 } as never), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_ARGUMENT' && /sendTimeoutMs is not a request gate limit/.test(err.message));
    assert.throws(() => gate.setLimits({ maxActive: 0 }), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_ARGUMENT');
    assert.equal(gate.setLimits({ timeoutMs: 300 }).timeoutMs, 1000);
    assert.equal(gate.limits.timeoutMs, 300);
  });
});

describe('RequestGate: a turn is held until its answer is done', () => {
  /** Enough of a ServerResponse for the gate: `close` ends it, as a client's going away does. */
  class FakeResponse extends EventEmitter {
    destroyed = false;
    headersSent = false;
    status = 0;
    writeHead(status: number): this {
      this.status = status;
      this.headersSent = true;
      return this;
    }
    end(): this {
      this.close();
      return this;
    }
    close(): void {
      if (this.destroyed) return;
      this.destroyed = true;
      this.emit('close');
    }
    /** What the gate calls at timeoutMs. */
    destroy(): this {
      this.close();
      return this;
    }
  }
  const res = (): FakeResponse & ServerResponse => new FakeResponse() as FakeResponse & ServerResponse;

  it('keeps the turn of a client gone while its answer still reads, so closing at once cannot start answers past maxActive', async () => {
    const gate = new RequestGate({ maxActive: 1, maxWaiting: 8, maxActivePerClient: 1, maxPerClient: 4, timeoutMs: 60_000 }, { what: 'test requests' });
    let finishRead!: () => void;
    const reading = new Promise<void>((resolve) => (finishRead = resolve));
    const first = res();
    gate.admit(first, () => reading, 'a');
    let started = 0;
    const second = res();
    gate.admit(second, () => {
      started++;
      return Promise.resolve();
    }, 'b');
    first.close(); // the client is gone; the gateway is still reading its answer
    await Promise.resolve();
    assert.equal(gate.stats.active, 1, 'the turn is still held');
    assert.equal(started, 0, 'no other answer started while the first still reads');
    finishRead();
    await reading;
    await new Promise((r) => setImmediate(r));
    assert.equal(started, 1);
    // Its answer done: the gate holds nothing (no turn left to time out after the test).
    second.close();
    assert.equal(gate.stats.active, 0);
  });
});
