// The Verify node's editor.
interface VerifyProps {
  name: string;
  ledger: string;
  tofu: boolean;
  requireFreshness: boolean;
  recordRejections: boolean;
  outputs: number | string;
}

RED.nodes.registerType<VerifyProps>('iot-ledger-verify', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    tofu: { value: false },
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
    $tofu.on('change', function () {
      $('#iot-ledger-verify-tofu-warning').toggle(this.checked);
    });
    $('#iot-ledger-verify-tofu-warning').toggle($tofu.prop('checked'));
  },
});
