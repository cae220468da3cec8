import { benchAudit } from './audit.bench';
import { benchCli } from './cli.bench';
import { benchEnvelopes } from './envelope.bench';
import { benchHypercore } from './hypercore.bench';
import { benchLedger } from './ledger.bench';
import { benchNodeRed } from './nodered.bench';
import { benchReplica } from './replica.bench';
import { benchStorage } from './storage.bench';

async function run(): Promise<void> {
  const only = process.argv[2];
  console.log(`# node-red-contrib-iot-ledger benchmarks (${process.version}, ${new Date().toISOString()})`);
  if (!only || only === 'envelope') benchEnvelopes();
  if (!only || only === 'ledger') await benchLedger();
  if (!only || only === 'hypercore') await benchHypercore();
  if (!only || only === 'cli') benchCli();
  if (!only || only === 'audit') await benchAudit();
  if (only === 'audit-plain') await benchAudit({ signed: 0 });
  if (!only || only === 'nodered') await benchNodeRed();
  if (!only || only === 'witnesses') await benchNodeRed(true);
  if (!only || only === 'replica') await benchReplica();
  if (!only || only === 'storage') await benchStorage();
}

run().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
