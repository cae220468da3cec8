// The Anchor node's editor.
import { check, str } from '../shared/validators';
import { hasLogin } from '../../lib/url-login';

interface AnchorProps {
  name: string;
  ledger: string;
  rpcUrl: string;
  chainId: string;
  contract: string;
  keyFile: string;
  everyBlocks: number;
  everyMinutes: number;
  confirmations: number;
  maxFeeGwei: number;
  maxPriorityGwei: number;
  maxBumps: number;
  bumpAfterSeconds: number;
  pollSeconds: number;
}

interface AnchorCredentials {
  secretRpcUrl?: string;
  has_secretRpcUrl?: boolean;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const URL_PATTERN = /^https?:\/\//;
// "${NAME}": Node-RED puts the environment variable's value there when the flow starts.
const ENV = /^\$\{\w+\}$/;
const matches = (re: RegExp) => (v: unknown): boolean => re.test(str(v)) || ENV.test(str(v));
const count = (v: unknown): boolean => ENV.test(str(v)) || /^\d+(\.\d+)?$/.test(str(v));

RED.nodes.registerType<AnchorProps>('iot-ledger-anchor', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    // Empty when the URL is the credential; never with a user name or password, which flows.json would keep in plain text.
    rpcUrl: {
      value: '',
      validate: check<EditorNode & AnchorProps & { credentials?: AnchorCredentials }>((v, node) => {
        if (str(v) === '') return Boolean(node.credentials?.secretRpcUrl || node.credentials?.has_secretRpcUrl);
        return matches(URL_PATTERN)(v) && !hasLogin(str(v));
      }, 'iot-ledger-anchor.errors.rpcUrl'),
    },
    chainId: { value: '', required: true, validate: count },
    contract: { value: '', required: true, validate: matches(ADDRESS) },
    keyFile: { value: '' },
    everyBlocks: { value: 0, validate: RED.validators.number() },
    everyMinutes: { value: 60, validate: RED.validators.number() },
    confirmations: { value: 12, validate: RED.validators.number() },
    maxFeeGwei: { value: 50, validate: RED.validators.number() },
    maxPriorityGwei: { value: 2, validate: RED.validators.number() },
    maxBumps: { value: 3, validate: RED.validators.number() },
    bumpAfterSeconds: { value: 180, validate: RED.validators.number() },
    pollSeconds: { value: 15, validate: RED.validators.number() },
  },
  credentials: {
    privateKey: { type: 'password' },
    secretRpcUrl: { type: 'password' },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-anchor.svg',
  paletteLabel() {
    return this._('iot-ledger-anchor.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-anchor.label.node');
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
});
