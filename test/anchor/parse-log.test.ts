import * as assert from 'node:assert/strict';
import type { Log } from 'ethers';
import { anchorInterface, parseAnchorLog } from '../../lib/anchor/chain';
import { toHex } from '../../lib/encoding/bytes';

// parseAnchorLog decodes the Anchored event by hand: it must accept and read exactly what
// ethers' Interface.parseLog does, malformed and surprising logs included.
describe('anchor: parseAnchorLog decodes as ethers does', function () {
  const topic = (anchorInterface().getEvent('Anchored')?.topicHash as string).toLowerCase();
  const origin = `0x${'11'.repeat(32)}`;
  const upper = (h: string): string => `0x${h.slice(2).toUpperCase()}`;
  const word = (h: string): string => h.padStart(64, '0');
  const good = `0x${word('5')}${'22'.repeat(32)}${'33'.repeat(32)}`;

  /** What the code did before: ethers' parseLog, its arguments read the same way. */
  function byEthers(log: Log): object | null {
    let parsed;
    try {
      parsed = anchorInterface().parseLog({ topics: [...log.topics], data: log.data });
    } catch {
      return null;
    }
    if (!parsed || parsed.name !== 'Anchored') return null;
    return { size: Number(parsed.args.size as bigint), root: (parsed.args.root as string).slice(2), checkpointHash: (parsed.args.checkpointHash as string).slice(2) };
  }
  function byHand(log: Log): object | null {
    const a = parseAnchorLog(log, 7);
    if (!a) return null;
    assert.deepEqual([a.blockNumber, a.blockHash, a.time, a.txHash, a.logIndex], [3, `0x${'aa'.repeat(32)}`, 7, `0x${'bb'.repeat(32)}`, 1]);
    return { size: a.size, root: toHex(a.root), checkpointHash: toHex(a.checkpointHash) };
  }

  const topicsCases: unknown[][] = [
    [topic, origin],
    [upper(topic), upper(origin)],
    [topic, origin, origin],
    [topic, `0x${'11'.repeat(16)}`, `0x${'22'.repeat(16)}`],
    [topic, '0x', origin],
    [topic],
    [],
    [topic, `0x${'11'.repeat(31)}`],
    [topic, `0x${'11'.repeat(33)}`],
    [topic, '0x123'],
    [topic, '11'.repeat(32)],
    [topic, 5],
    [topic, undefined],
    ['Anchored', origin],
    [`0x${'00'.repeat(32)}`, origin],
    [topic.slice(0, -2), origin],
    [`${topic}00`, origin],
    [undefined, origin],
  ];
  const dataCases: unknown[] = [
    good,
    upper(good),
    `${good}00`,
    `${good}${'ab'.repeat(40)}`,
    `${good}0`,
    good.slice(0, -2),
    good.slice(0, -1),
    good.slice(2),
    '0x',
    '',
    undefined,
    `0x${'ff'.repeat(32)}${'22'.repeat(64)}`,
    `0x${word(`1${'0'.repeat(16)}`)}${'22'.repeat(64)}`,
    `0x${word('20000000000001')}${'22'.repeat(64)}`,
    good.replace('22', 'g2'),
  ];

  it('accepts and reads the same logs as Interface.parseLog', () => {
    let accepted = 0;
    for (const topics of topicsCases)
      for (const data of dataCases) {
        const log = { topics, data, blockNumber: 3, blockHash: `0x${'AA'.repeat(32)}`, transactionHash: `0x${'bb'.repeat(32)}`, index: 1 } as unknown as Log;
        const want = byEthers(log);
        assert.deepEqual(byHand(log), want, `topics ${JSON.stringify(topics)}, data ${JSON.stringify(data)}`);
        if (want) accepted++;
      }
    assert.ok(accepted >= 20, `${accepted} logs accepted: the cases reach the decoding`);
  });

  it('a log encoded by the interface reads back as given', () => {
    const root = `0x${'44'.repeat(32)}`;
    const cp = `0x${'55'.repeat(32)}`;
    const { topics, data } = anchorInterface().encodeEventLog('Anchored', [origin, 2 ** 53 - 1, root, cp]);
    const a = parseAnchorLog({ topics, data, blockNumber: 3, blockHash: `0x${'aa'.repeat(32)}`, transactionHash: `0x${'bb'.repeat(32)}`, index: 1 } as unknown as Log, 0);
    assert.deepEqual(a && [a.size, toHex(a.root), toHex(a.checkpointHash)], [2 ** 53 - 1, '44'.repeat(32), '55'.repeat(32)]);
  });
});
