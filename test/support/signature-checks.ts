import { SignaturePool } from '../../lib/gateway/signature-pool';

/**
 * Counts the signature checks the gateway's pool has answered, for the suite it is called in
 * (it wraps SignaturePool.prototype.check before the suite and puts it back after):
 * `reset()` starts counting again, `done(n)` resolves once n checks were answered since.
 */
export function signatureChecks(): { reset(): void; done(n: number): Promise<void> } {
  let checked = 0;
  let onChecked: (() => void) | undefined;
  // Called with the pool as `this` again (the wrapper below).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const check = SignaturePool.prototype.check;
  before(() => {
    SignaturePool.prototype.check = function (this: SignaturePool, data, did, enrolled, done) {
      return check.call(this, data, did, enrolled, (err, v) => {
        done(err, v);
        checked++;
        onChecked?.();
      });
    };
  });
  after(() => {
    SignaturePool.prototype.check = check;
  });
  return {
    reset: () => {
      checked = 0;
      onChecked = undefined;
    },
    done: (n) =>
      new Promise((resolve) => {
        onChecked = () => {
          if (checked >= n) resolve();
        };
        onChecked();
      }),
  };
}
