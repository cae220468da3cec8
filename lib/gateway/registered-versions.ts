// The highest version of each contract id registered on a gateway's ledger: what a pulling
// Contract node checks every contract document against (contracts.checkContractVersion).
// Anyone on the broker can send a validly signed document again and again, so the check must
// not read the ledger: the first check reads the contract.register records back once (one scan
// of the block summaries), and from then on the gateway's appends keep the versions, as they
// keep its other derived state.
import { CONTRACT_REGISTER } from '../contracts/records';
import { registrationOf, type AcceptedVersion } from '../contracts/pull';
import type { Ledger, Receipt, RecordInput } from '../ledger';

interface Registered extends AcceptedVersion {
  /** Index of the registration: of two with the highest version, the later one counts. */
  index: number;
}

export class RegisteredVersions {
  readonly #ledger: Pick<Ledger, 'byType'>;
  readonly #byId = new Map<string, Registered>();
  #loaded: Promise<void> | undefined;

  constructor(ledger: Pick<Ledger, 'byType'>) {
    this.#ledger = ledger;
  }

  /**
   * The highest version of contract `id` registered (the later registration when two have that
   * version), or undefined when none is: what contracts.registeredVersion(ledger, id) says,
   * without reading the ledger after the first call.
   */
  async get(id: string): Promise<AcceptedVersion | undefined> {
    this.#loaded ??= this.#load().catch((err: unknown) => {
      // Read back again at the next call.
      this.#loaded = undefined;
      this.#byId.clear();
      throw err;
    });
    await this.#loaded;
    const r = this.#byId.get(id);
    return r && { version: r.version, termsHash: r.termsHash };
  }

  /** A record the gateway appended (before the first get() it is among those read back). */
  appended(receipt: Receipt, input: RecordInput): void {
    if (this.#loaded === undefined || input.type !== CONTRACT_REGISTER) return;
    this.#apply(receipt.index, input.body);
  }

  async #load(): Promise<void> {
    for await (const r of this.#ledger.byType(CONTRACT_REGISTER)) this.#apply(r.index, r.record.body);
  }

  /** In any order, and the same record read back and appended counts once. */
  #apply(index: number, body: unknown): void {
    const reg = registrationOf(body);
    if (!reg) return;
    const best = this.#byId.get(reg.contract);
    if (best && (reg.version < best.version || (reg.version === best.version && index <= best.index))) return;
    this.#byId.set(reg.contract, { version: reg.version, termsHash: reg.termsHash, index });
  }
}
