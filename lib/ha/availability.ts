// Whether an MQTT broker connection leaves Home Assistant a correct `offline` when the gateway
// goes away: the connection's last will (crash, network loss) and its close message (a clean stop)
// must be `offline`, retained, on the gateway's availability topic. Pure.
import { PAYLOAD_OFFLINE, availabilityTopic, type HaTopics } from './topics';

/** A message as Node-RED's mqtt-broker node keeps its will and close message. */
export interface BrokerMessage {
  topic?: unknown;
  payload?: unknown;
  retain?: unknown;
}

/** Whether `m` publishes `offline`, retained, on the availability topic of `t`. */
export function isOfflineMessage(t: HaTopics, m: BrokerMessage | undefined): boolean {
  if (!m) return false;
  const payload = Buffer.isBuffer(m.payload) ? m.payload.toString('utf8') : m.payload;
  return m.topic === availabilityTopic(t) && payload === PAYLOAD_OFFLINE && (m.retain === true || m.retain === 'true');
}

/** Which of the broker's two messages are not yet `offline` on the availability topic. */
export function missingOfflineMessages(t: HaTopics, will: BrokerMessage | undefined, close: BrokerMessage | undefined): ('will' | 'close')[] {
  const out: ('will' | 'close')[] = [];
  if (!isOfflineMessage(t, will)) out.push('will');
  if (!isOfflineMessage(t, close)) out.push('close');
  return out;
}
