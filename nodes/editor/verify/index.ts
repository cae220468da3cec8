// The Verify node's editor.
import { wholeNumber } from '../shared/validators';

interface VerifyProps {
  name: string;
  ledger: string;
  tofu: boolean;
  tofuMaxDevices: number | string;
  tofuBurst: number | string;
  tofuEvery: number | string;
  requireFreshness: boolean;
  recordRejections: boolean;
  outputs: number | string;
}

// What trust on first use may admit: the library's defaults (lib/gateway/tofu-limit.ts) and the
// largest values the runtime takes (nodes/iot-ledger-verify.ts).
const TOFU_MAX_DEVICES = 256;
const TOFU_BURST = 32;
const TOFU_EVERY = 10;
const MAX_TOFU_DEVICES = 65536;
const MAX_TOFU_BURST = 4096;
const MAX_TOFU_EVERY = 86400;

RED.nodes.registerType<VerifyProps>('iot-ledger-verify', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    tofu: { value: false },
    tofuMaxDevices: { value: TOFU_MAX_DEVICES, validate: wholeNumber(1, MAX_TOFU_DEVICES, 'iot-ledger-verify.errors.tofuMaxDevices') },
    tofuBurst: { value: TOFU_BURST, validate: wholeNumber(1, MAX_TOFU_BURST, 'iot-ledger-verify.errors.tofuBurst') },
    tofuEvery: { value: TOFU_EVERY, validate: wholeNumber(1, MAX_TOFU_EVERY, 'iot-ledger-verify.errors.tofuEvery') },
    requireFreshness: { value: true },
    recordRejections: { value: true },
    outputs: { value: 1 },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-verify.svg',
  paletteLabel() {
    return this._('iot-ledger-verify.paletteLabel');
  },
  label() {
    return this.name || this._(this.tofu ? 'iot-ledger-verify.label.verifyTofu' : 'iot-ledger-verify.label.verify');
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  outputLabels(index) {
    if (Number(this.outputs) === 2 && index === 1) return this._('iot-ledger-verify.outputs.rejected');
    return this._('iot-ledger-verify.outputs.verified');
  },
  oneditprepare() {
    const $outputs = $('#node-input-outputs');
    const $rejectOutput = $('#iot-ledger-verify-rejectOutput');
    const $tofu = $('#node-input-tofu');

    // Properties missing from older flows: show the defaults the runtime uses.
    if (this.requireFreshness === undefined) $('#node-input-requireFreshness').prop('checked', true);
    if (this.recordRejections === undefined) $('#node-input-recordRejections').prop('checked', true);

    $rejectOutput.prop('checked', Number(this.outputs) === 2);
    $outputs.val(Number(this.outputs) === 2 ? '2' : '1');
    $rejectOutput.on('change', function () {
      $outputs.val(this.checked ? '2' : '1');
    });
    // Properties missing from older flows: the library's defaults, which the runtime uses then.
    if (this.tofuMaxDevices === undefined) $('#node-input-tofuMaxDevices').val(TOFU_MAX_DEVICES);
    if (this.tofuBurst === undefined) $('#node-input-tofuBurst').val(TOFU_BURST);
    if (this.tofuEvery === undefined) $('#node-input-tofuEvery').val(TOFU_EVERY);
    $('#node-input-tofuMaxDevices').spinner({ min: 1, max: MAX_TOFU_DEVICES });
    $('#node-input-tofuBurst').spinner({ min: 1, max: MAX_TOFU_BURST });
    $('#node-input-tofuEvery').spinner({ min: 1, max: MAX_TOFU_EVERY });
    $tofu.on('change', function () {
      $('#iot-ledger-verify-tofu-warning').toggle(this.checked);
      $('#iot-ledger-verify-tofu-limits').toggle(this.checked);
    });
    $('#iot-ledger-verify-tofu-warning').toggle($tofu.prop('checked'));
    $('#iot-ledger-verify-tofu-limits').toggle($tofu.prop('checked'));
  },
});
