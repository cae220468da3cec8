// What the demo prints about the simulated sensors' firmware topics. Anyone on the broker can
// publish there: what the sensor ignores or refuses without a report is printed at most once a
// minute per sensor (the latest, with how many came), installs and reported refusals each time.
import { CountReporter } from '../lib/guards/count-reporter';
import type { OfferOutcome } from './sensor-pull';

export const QUIET_NOTE_MS = 60_000;

export function firmwareNote(sensor: string, o: OfferOutcome): string | undefined {
  switch (o.kind) {
    case 'installed':
      return `[sim] ${sensor}: firmware ${o.from.version} -> ${o.to.version} installed (vendor signature, digest and approval at record ${o.decisionIndex} verified); signed report sent`;
    case 'refused':
      return `[sim] ${sensor}: REFUSED firmware offer ${o.offered.version} (${o.reason}): ${o.message}; signed report sent`;
    case 'ignored':
      return `[sim] ${sensor}: REFUSED firmware offer ${o.offered.version} (${o.reason}), not reported: ${o.why === 'not-vendor-signed' ? 'no trusted vendor signed it' : o.why === 'reported-already' ? 'its refusal was reported already' : 'too many refusals reported since the last install'}`;
    case 'unreadable':
      return `[sim] ${sensor}: ignored a message on its firmware topic: ${o.message}`;
    case 'current':
      return undefined;
  }
}

/** `(sensor, outcome)` printing its note with `log`: unreported ones aggregated per sensor, every `intervalMs`. */
export function firmwareNotes(log: (line: string) => void, intervalMs = QUIET_NOTE_MS): (sensor: string, o: OfferOutcome) => void {
  const quiet = new Map<string, { latest: string; reporter: CountReporter }>();
  return (sensor, o) => {
    const line = firmwareNote(sensor, o);
    if (line === undefined) return;
    if (o.kind !== 'ignored' && o.kind !== 'unreadable') return log(line);
    let q = quiet.get(sensor);
    if (!q) {
      const entry = {
        latest: line,
        reporter: new CountReporter(intervalMs, (n) => log(n === 1 ? entry.latest : `${entry.latest} (the latest of ${n} messages on its firmware topic ignored or refused without a report)`)),
      };
      q = entry;
      quiet.set(sensor, q);
    }
    q.latest = line;
    q.reporter.add();
  };
}
