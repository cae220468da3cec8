// The newest records of one type (the sidebar's security list, asked for every second while
// records arrive). The first request reads back through the ledger as far as it must; from then
// on the gateway's appends keep the list, as they keep its other derived state. (Reading the new
// records at each request would decode every record of a block that holds one match: a pause of
// milliseconds each second on a busy gateway.)
import type { Ledger, LedgerRecord, Receipt, RecordInput } from '../ledger';

export interface RecordAt {
  index: number;
  record: Pick<LedgerRecord, 'type' | 'time' | 'device' | 'body'>;
}

export class RecentRecords {
  readonly #ledger: Pick<Ledger, 'size' | 'byType'>;
  readonly #type: string;
  readonly #limit: number;
  /** Newest first, at most #limit. */
  readonly #items: RecordAt[] = [];
  #loaded: Promise<void> | undefined;

  constructor(ledger: Pick<Ledger, 'size' | 'byType'>, type: string, limit: number) {
    this.#ledger = ledger;
    this.#type = type;
    this.#limit = limit;
  }

  /** The newest records of the type, newest first. */
  async list(): Promise<RecordAt[]> {
    this.#loaded ??= this.#load().catch((err: unknown) => {
      // Read again at the next request.
      this.#loaded = undefined;
      this.#items.length = 0;
      throw err;
    });
    await this.#loaded;
    return [...this.#items];
  }

  /** A record the gateway appended (before the first list() it is among those read back). */
  appended(receipt: Receipt, input: RecordInput): void {
    if (this.#loaded === undefined || input.type !== this.#type) return;
    const record: RecordAt['record'] = { type: input.type, time: receipt.time };
    if (input.device !== undefined) record.device = input.device;
    if (input.body !== undefined) record.body = input.body;
    this.#add({ index: receipt.index, record });
  }

  async #load(): Promise<void> {
    for await (const r of this.#ledger.byType(this.#type, { to: this.#ledger.size, reverse: true, limit: this.#limit })) this.#add(r);
  }

  #add(r: RecordAt): void {
    const items = this.#items;
    let at = 0;
    while (at < items.length && items[at]!.index > r.index) at++;
    if (at >= this.#limit || items[at]?.index === r.index) return; // older than the list, or both read back and appended
    items.splice(at, 0, { index: r.index, record: r.record });
    if (items.length > this.#limit) items.pop();
  }
}
