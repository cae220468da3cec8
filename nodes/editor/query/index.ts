// The Query node's editor.
import { oneOf, wholeNumber } from '../shared/validators';

interface QueryProps {
  name: string;
  ledger: string;
  mode: string;
  limit: number | string;
}

const MODES = ['latest', 'index', 'range', 'device', 'type', 'time', 'proof', 'block'];
const modeOf = (v: unknown): string => (MODES.includes(String(v)) ? String(v) : 'latest');

RED.nodes.registerType<QueryProps>('iot-ledger-query', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    mode: { value: 'latest', required: true, validate: oneOf(MODES) },
    limit: { value: 100, required: true, validate: wholeNumber(1, 10000, 'iot-ledger-query.errors.limit') },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-query.svg',
  paletteLabel() {
    return this._('iot-ledger-query.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-query.label.node', { mode: this._('iot-ledger-query.mode.' + modeOf(this.mode)) });
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    const node = this;
    const $mode = $('#node-input-mode');
    if (!$mode.val()) $mode.val('latest');
    if (node.limit === undefined) $('#node-input-limit').val(100);
    $('#node-input-limit').spinner({ min: 1, max: 10000 });
    $mode
      .on('change', () => {
        const mode = modeOf($mode.val());
        $('#iot-ledger-query-tip').text(node._('iot-ledger-query.tip.' + mode));
        // index, proof and block return one item: the limit does not apply.
        $('#iot-ledger-query-limit-row').toggle(!['index', 'proof', 'block'].includes(mode));
      })
      .trigger('change');
  },
});
