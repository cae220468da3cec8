import type { Gateway } from '../../lib/gateway';
import { LedgerError } from '../../lib/errors';
import type { LedgerConfigNode } from './ledger-config';
import type { RED, Node, NodeDef } from './red';
import { formatCount, status, type Translate } from './status';
import { configText } from './config-text';

/** Finds the Ledger config node a node points at; the returned function resolves its gateway. */
export function useLedger(RED: RED, node: Node, def: NodeDef): () => Promise<Gateway> {
  const config = RED.nodes.getNode(configText(def.ledger)) as LedgerConfigNode | null;
  if (!config || typeof config.gateway !== 'function') {
    node.status(status.error(RED._('iot-ledger-config.status.missing')));
    return () => Promise.reject(new LedgerError('ERR_INVALID_ARGUMENT', RED._('iot-ledger-config.status.missing')));
  }
  return () => config.gateway();
}

function countText(t: Translate, n: number, noun: 'blocks' | 'records'): string {
  return t(`iot-ledger-record.status.${noun}${n === 1 ? 'One' : ''}`, { count: formatCount(n) });
}

/** "21 blocks · 324 records", "1 block · 1 record": counts (the blocks are #0 to #20), not the number of the latest block. */
export function ledgerStatusText(t: Translate, gw: Gateway): string {
  const text = t('iot-ledger-record.status.ledger', { blocks: countText(t, gw.ledger.height, 'blocks'), records: countText(t, gw.ledger.size, 'records') });
  const w = gw.witnesses?.last;
  return w && w.of > 0 ? t('iot-ledger-record.status.cosigned', { text, k: w.cosigned, n: w.of }) : text;
}
