// The Replica node's editor.
import { check, str, wholeNumber } from '../shared/validators';
import { hasLogin } from '../../lib/url-login';

interface ReplicaProps {
  name: string;
  url: string;
  key: string;
  dir: string;
  interval: number | string;
  maxBlockRecords: number | string;
  maxBlockMiB: number | string;
}

// The library's defaults (lib/replica DEFAULT_MAX_BLOCK_RECORDS, DEFAULT_MAX_BLOCK_BYTES), and
// at most 16 times them, as the runtime takes them (nodes/iot-ledger-replica.ts).
const MAX_BLOCK_RECORDS = 65536;
const MAX_BLOCK_MIB = 64;

// A gateway's did:key (Ed25519) or its C2SP verifier key "name+hash+base64".
const KEY = (v: unknown): boolean => {
  const text = str(v).trim();
  return /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/.test(text) || /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(text);
};

RED.nodes.registerType<ReplicaProps>('iot-ledger-replica', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    // No login in the URL: flows.json, the node's messages and the sidebar would show it (the login fields are credentials).
    url: {
      value: '',
      required: true,
      validate: check((v) => !hasLogin(str(v)) && (/^https?:\/\/\S+$/.test(str(v)) || /^mqtts?:\/\/[^/\s]+\/[^#+\s]+$/.test(str(v))), 'iot-ledger-replica.errors.url'),
    },
    key: { value: '', required: true, validate: check(KEY, 'iot-ledger-replica.errors.key') },
    dir: { value: '' },
    interval: { value: 5, required: true, validate: wholeNumber(1, 86400, 'iot-ledger-replica.errors.interval') },
    maxBlockRecords: { value: MAX_BLOCK_RECORDS, validate: wholeNumber(1, 16 * MAX_BLOCK_RECORDS, 'iot-ledger-replica.errors.maxBlockRecords') },
    maxBlockMiB: { value: MAX_BLOCK_MIB, validate: wholeNumber(1, 16 * MAX_BLOCK_MIB, 'iot-ledger-replica.errors.maxBlockMiB') },
  },
  credentials: {
    user: { type: 'text' },
    password: { type: 'password' },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-replica.svg',
  paletteLabel() {
    return this._('iot-ledger-replica.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-replica.paletteLabel');
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    $('#node-input-interval').spinner({ min: 1, max: 86400 });
    $('#node-input-maxBlockRecords').spinner({ min: 1, max: 16 * MAX_BLOCK_RECORDS });
    $('#node-input-maxBlockMiB').spinner({ min: 1, max: 16 * MAX_BLOCK_MIB });
  },
});
