// The Ledger config node's editor: its settings, and what the deployed ledger reports.
import { MAX_BLOCK_RECORDS } from '../../../lib/ledger/block-limits';
import { check, showMessage, textOf, wholeNumber, xhrError } from '../shared/validators';

interface ConfigProps {
  ledgerName: string;
  dir: string;
  blockRecords: number | string;
  blockSeconds: number | string;
  witnesses: string;
  quorum: string;
  publishTiles: boolean;
  tilesDir: string;
  tilesMqtt: string;
}

interface LedgerInfo {
  deployed?: boolean;
  gatewayDid?: string;
  verifierKey?: string;
  size?: number;
  blocks?: number;
  devices?: number;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const count = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString() : '');

RED.nodes.registerType<ConfigProps>('iot-ledger-config', {
  category: 'config',
  defaults: {
    ledgerName: { value: 'coldroom', required: true, validate: check((v) => NAME_PATTERN.test(String(v)), 'iot-ledger-config.errors.ledgerName') },
    dir: { value: '', required: false },
    blockRecords: { value: 1000, required: true, validate: wholeNumber(1, MAX_BLOCK_RECORDS, 'iot-ledger-config.errors.blockRecords') },
    blockSeconds: { value: 60, required: true, validate: wholeNumber(1, 2000000, 'iot-ledger-config.errors.blockSeconds') },
    witnesses: { value: '' },
    quorum: {
      value: '',
      validate: check<EditorNode & ConfigProps>((value, node) => {
        const text = textOf(value);
        const n = String(node.witnesses || '')
          .split('\n')
          .filter((l) => l.trim() && l.trim()[0] !== '#').length;
        return text === '' || (/^\d+$/.test(text) && Number(text) <= n);
      }, 'iot-ledger-config.errors.quorum'),
    },
    publishTiles: { value: false },
    tilesDir: { value: '', required: false },
    tilesMqtt: {
      value: '',
      required: false,
      // No user name or password in the URL: flows.json would keep them in plain text (the broker login fields are credentials).
      validate: check((v) => textOf(v) === '' || /^mqtts?:\/\/[^/\s@]+(\/[^#+\s]*)?$/.test(textOf(v)), 'iot-ledger-config.errors.tilesMqtt'),
    },
  },
  credentials: {
    mqttUser: { type: 'text' },
    mqttPassword: { type: 'password' },
  },
  icon: 'iot-ledger-config.svg',
  paletteLabel() {
    return this._('iot-ledger-config.paletteLabel');
  },
  label() {
    return this.ledgerName || this._('iot-ledger-config.paletteLabel');
  },
  oneditprepare() {
    const node = this;
    // Properties missing from older flows: show the defaults the runtime uses.
    if (node.blockRecords === undefined) $('#node-config-input-blockRecords').val(1000);
    if (node.blockSeconds === undefined) $('#node-config-input-blockSeconds').val(60);
    $('#node-config-input-blockRecords').spinner({ min: 1, max: MAX_BLOCK_RECORDS });
    $('#node-config-input-blockSeconds').spinner({ min: 1, max: 2000000 });
    $('#node-config-input-ledgerName')
      .on('change keyup', function () {
        $('#iot-ledger-config-tiles-name').text($(this).val());
      })
      .trigger('change');

    const $message = $('#iot-ledger-config-message');
    const $details = $('#iot-ledger-config-details');

    $details.find('button[data-copy]').on('click', function (event) {
      event.preventDefault();
      const value = $('#' + ($(this).attr('data-copy') ?? '')).val();
      if (value) RED.clipboard.copyText(value, $(this), 'clipboard.copyMessageValue');
    });

    $details.hide();
    showMessage($message, 'fa-spinner fa-spin', node._('iot-ledger-config.info.loading'));
    $.getJSON<LedgerInfo>('iot-ledger/ledgers/' + encodeURIComponent(node.id))
      .done((info) => {
        if (!info || info.deployed === false) {
          showMessage($message, 'fa-info-circle', node._('iot-ledger-config.info.notDeployed'));
          return;
        }
        $message.hide();
        $('#iot-ledger-config-gatewayDid').val(info.gatewayDid || '');
        $('#iot-ledger-config-verifierKey').val(info.verifierKey || '');
        $('#iot-ledger-config-size').val(count(info.size));
        $('#iot-ledger-config-blocks').val(count(info.blocks));
        $('#iot-ledger-config-devices').val(count(info.devices));
        $details.show();
      })
      .fail((xhr) => {
        if (xhr.status === 404) {
          showMessage($message, 'fa-info-circle', node._('iot-ledger-config.info.notDeployed'));
          return;
        }
        showMessage($message, 'fa-exclamation-triangle', node._('iot-ledger-config.info.error', { error: xhrError(xhr) }));
      });
  },
});
