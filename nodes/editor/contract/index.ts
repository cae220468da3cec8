// The Contract node's editor: a form and a JSON view of the terms, checked by the runtime's own
// validateTerms (terms-check.ts), and a tab with the deployed contract's parties and signatures.
import { parseTime } from '../../../lib/contracts/time';
import { str } from '../shared/validators';
import { checkTermsText, isObject, listProblem, parseTerms, termsProblem, type TermsObject, type TermsProblem } from './terms-check';

interface ContractProps {
  name: string;
  ledger: string;
  ha: string;
  terms: string;
  termsFrom: string;
  originKey: string;
  publishDocument: boolean;
  tickSeconds: number | string;
  editor?: CodeEditor;
}

interface DeployedParty {
  did: string;
  signed: boolean;
}

interface DeployedContract {
  id: string;
  version: number;
  title: string;
  unit?: string;
  active: boolean;
  parties: DeployedParty[];
  signingPayload: unknown;
  state?: { status?: string; last?: { value: number; time: number } };
}

const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const TERMS_KEYS = ['id', 'version', 'title', 'subjects', 'metric', 'unit', 'rule', 'alarm', 'hysteresis',
  'maxGapSeconds', 'mkt', 'parties', 'validFrom', 'validUntil'];
const MAX_TICK = 86400;

// What a new contract node starts with; it needs its parties before it is valid.
const TEMPLATE: TermsObject = {
  id: 'cold-room',
  version: 1,
  title: 'Cold room below -18 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -18 },
  alarm: { mode: 'consecutive', seconds: 300 },
  hysteresis: 0.5,
  maxGapSeconds: 600,
  parties: [],
};

function problemText(_: Translate, p: TermsProblem, count: number): string {
  let text: string;
  if (p.field === 'json' && p.message === 'empty') text = _('iot-ledger-contract.errors.empty');
  else if (p.field === 'json' && p.index === undefined) text = _('iot-ledger-contract.errors.json', { error: p.message });
  else text = p.message;
  if (count > 1 && p.index !== undefined) return _('iot-ledger-contract.errors.inContract', { n: p.index + 1, message: text });
  return text;
}

// JSON with sorted keys, to compare terms whatever the order of their fields.
function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (isObject(v))
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
  return JSON.stringify(v);
}

function shortDid(did: string): string {
  const id = String(did).replace(/^did:key:/, '');
  return id.length > 18 ? id.slice(0, 8) + '\u2026' + id.slice(-8) : id;
}

/** Whether a list entry looks right while it is typed (the full check runs on the terms). */
function entryProblem(v: string, allowNames: boolean): boolean {
  if (v === '') return false;
  const probe = termsProblem({ ...TEMPLATE, parties: [allowNames ? 'x' : v], subjects: allowNames ? [v] : 'any' });
  return !!probe && (probe.field === (allowNames ? 'subjects' : 'parties'));
}

RED.nodes.registerType<ContractProps>('iot-ledger-contract', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    ha: { value: '', type: 'iot-ledger-ha', required: false },
    terms: {
      value: '',
      required: true,
      // Two parameters: Node-RED reads a message only from such a validator (shared/validators.ts).
      validate(value, _options) {
        if (this.termsFrom === 'document' && !str(value).trim()) return true;
        const verdict = checkTermsText(value);
        if (verdict === true) return true;
        const parsed = parseTerms(value);
        return typeof this._ === 'function' ? problemText(this._, verdict, parsed.list ? parsed.list.length : 1) : false;
      },
    },
    termsFrom: { value: 'typed' },
    originKey: { value: '' },
    publishDocument: { value: false },
    tickSeconds: {
      value: 5,
      required: true,
      // Two parameters: Node-RED reads a message only from such a validator (shared/validators.ts).
      validate(value, _options) {
        const text = str(value).trim();
        if (value === undefined || (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_TICK)) return true;
        return typeof this._ === 'function' ? this._('iot-ledger-contract.errors.tickSeconds') : false;
      },
    },
  },
  inputs: 1,
  outputs: 2,
  icon: 'iot-ledger-contract.svg',
  paletteLabel() {
    return this._('iot-ledger-contract.paletteLabel');
  },
  label() {
    if (this.name) return this.name;
    const parsed = parseTerms(this.terms);
    const first = parsed.list?.[0];
    if (parsed.list && parsed.list.length === 1 && isObject(first) && typeof first.title === 'string' && first.title) return first.title;
    if (parsed.list && parsed.list.length > 1) return this._('iot-ledger-contract.label.contracts', { count: parsed.list.length });
    return this._('iot-ledger-contract.paletteLabel');
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  inputLabels() {
    return this._('iot-ledger-contract.inputs.readings');
  },
  outputLabels(index) {
    return this._(index === 0 ? 'iot-ledger-contract.outputs.events' : 'iot-ledger-contract.outputs.state');
  },
  oneditprepare() {
    const node = this;
    const _: Translate = (key, args) => node._(key, args);
    const $form = $('#iot-ledger-contract-form');
    const $problem = $('#iot-ledger-contract-problem');
    const $jsonProblem = $('#iot-ledger-contract-json-problem');
    const $select = $('#iot-ledger-contract-select');
    const field = (name: string): JQuery => $('#iot-ledger-contract-' + name);

    // Properties missing from older flows: show the defaults the runtime uses.
    if (node.tickSeconds === undefined) $('#node-input-tickSeconds').val(5);
    $('#node-input-tickSeconds').spinner({ min: 1, max: MAX_TICK });

    // The contracts being edited; the form shows one of them. `source` is the view the
    // user edited last ("form" or "json"): the other one is refreshed from it.
    const parsed = parseTerms(node.terms);
    const state = {
      list: parsed.list ? parsed.list : [$.extend(true, {}, TEMPLATE)],
      current: 0,
      source: 'form' as 'form' | 'json',
      brokenJson: false,
    };
    // Not terms the form can show: keep the text for the JSON tab.
    if ((parsed.problem && String(node.terms || '').trim() !== '') || (parsed.list && !parsed.list.every(isObject))) state.source = 'json';

    // ---- form <-> terms

    function numberOrText(text: unknown): string | number | undefined {
      const t = str(text).trim();
      if (t === '') return undefined;
      return NUMBER_TEXT.test(t) ? Number(t) : t;
    }

    // 90 -> "1 min 30 s", 86400 -> "1 d": what a number of seconds means.
    function duration(seconds: number): string {
      const units: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
      let rest = Math.round(seconds);
      const parts: string[] = [];
      for (const [size, unit] of units) {
        if (parts.length >= 2) break;
        if (rest >= size) {
          parts.push(Math.floor(rest / size) + ' ' + unit);
          rest %= size;
        } else if (parts.length) break;
      }
      return parts.join(' ');
    }

    function textOrUndefined(text: string): string | undefined {
      const t = String(text === undefined || text === null ? '' : text).trim();
      return t === '' ? undefined : t;
    }

    function timeText(v: unknown): string {
      if (typeof v === 'number' && isFinite(v)) {
        const iso = new Date(v).toISOString();
        return /\.000Z$/.test(iso) ? iso.slice(0, -5) + 'Z' : iso;
      }
      return str(v);
    }

    function listValues($list: JQuery): string[] {
      const out: string[] = [];
      $list.editableList('items').each(function () {
        const v = String($(this).find('input').val() || '').trim();
        if (v !== '') out.push(v);
      });
      return out;
    }

    // The terms the form describes. Fields it does not show are kept from `base`
    // (the runtime refuses unknown ones; the message says which).
    function formToTerms(base: unknown): TermsObject {
      const t: TermsObject = {};
      t.id = String(field('id').val() || '').trim();
      t.version = numberOrText(field('version').val());
      t.title = String(field('title').val() || '').trim();
      t.subjects = field('subjectsMode').val() === 'list' ? listValues(field('subjects')) : 'any';
      t.metric = String(field('metric').val() || '').trim();
      const unit = textOrUndefined(field('unit').val());
      if (unit !== undefined) t.unit = unit;
      const op = field('op').val();
      t.rule =
        op === 'between'
          ? { op, low: numberOrText(field('low').val()), high: numberOrText(field('high').val()) }
          : { op, limit: numberOrText(field('limit').val()) };
      const mode = field('alarm').val();
      const alarm: TermsObject = { mode };
      if (mode !== 'instant') alarm.seconds = numberOrText(field('alarmSeconds').val());
      if (mode === 'cumulative') alarm.windowSeconds = numberOrText(field('alarmWindow').val());
      t.alarm = alarm;
      const hysteresis = numberOrText(field('hysteresis').val());
      if (hysteresis !== undefined) t.hysteresis = hysteresis;
      const maxGap = numberOrText(field('maxGap').val());
      if (maxGap !== undefined) t.maxGapSeconds = maxGap;
      if (field('mkt').prop('checked')) {
        const mkt: TermsObject = { limit: numberOrText(field('mktLimit').val()), windowSeconds: numberOrText(field('mktWindow').val()) };
        const energy = numberOrText(field('mktEnergy').val());
        if (energy !== undefined) mkt.activationEnergyKJ = energy;
        t.mkt = mkt;
      }
      t.parties = listValues(field('parties'));
      for (const name of ['validFrom', 'validUntil']) {
        let time = numberOrText(field(name).val());
        // Shown as ISO 8601; a time given in ms stays in ms when it was not changed.
        if (isObject(base) && typeof base[name] === 'number' && parseTime(time) === base[name]) time = base[name];
        if (time !== undefined) t[name] = time;
      }
      if (isObject(base)) for (const k of Object.keys(base)) if (!TERMS_KEYS.includes(k)) t[k] = base[k];
      return t;
    }

    function show(name: string, value: unknown): void {
      field(name).val(str(value));
    }

    function termsToForm(terms: unknown): void {
      const t = isObject(terms) ? terms : {};
      const rule = isObject(t.rule) ? t.rule : {};
      const alarm = isObject(t.alarm) ? t.alarm : {};
      const mkt = isObject(t.mkt) ? t.mkt : undefined;
      show('id', t.id);
      show('version', t.version);
      show('title', t.title);
      show('metric', t.metric);
      show('unit', t.unit);
      field('op').val(['<', '<=', '>', '>=', 'between'].includes(rule.op as string) ? (rule.op as string) : '<');
      show('limit', rule.limit);
      show('low', rule.low);
      show('high', rule.high);
      field('alarm').val(['instant', 'consecutive', 'cumulative'].includes(alarm.mode as string) ? (alarm.mode as string) : 'instant');
      show('alarmSeconds', alarm.seconds);
      show('alarmWindow', alarm.windowSeconds);
      show('hysteresis', t.hysteresis);
      show('maxGap', t.maxGapSeconds);
      field('mkt').prop('checked', !!mkt);
      show('mktLimit', mkt ? mkt.limit : 25);
      show('mktWindow', mkt ? mkt.windowSeconds : 2592000);
      show('mktEnergy', mkt ? mkt.activationEnergyKJ : '');
      field('subjectsMode').val(Array.isArray(t.subjects) ? 'list' : 'any');
      field('subjects').editableList('empty');
      for (const s of Array.isArray(t.subjects) ? (t.subjects as unknown[]) : []) field('subjects').editableList('addItem', { value: s });
      field('parties').editableList('empty');
      const parties: unknown[] = Array.isArray(t.parties) ? t.parties : [];
      for (const p of parties) field('parties').editableList('addItem', { value: p });
      if (parties.length === 0) field('parties').editableList('addItem', { value: '' });
      show('validFrom', timeText(t.validFrom));
      show('validUntil', timeText(t.validUntil));
      updateVisibility();
    }

    function updateVisibility(): void {
      const between = field('op').val() === 'between';
      field('limit-group').toggle(!between);
      field('between-group').toggle(between);
      const mode = field('alarm').val();
      field('alarmSeconds-group').toggle(mode !== 'instant');
      field('alarmWindow-group').toggle(mode === 'cumulative');
      field('mkt-group').toggle(field('mkt').prop('checked'));
      field('subjects-row').toggle(field('subjectsMode').val() === 'list');
      const unit = String(field('unit').val() || '').trim();
      $('.iot-ledger-contract-unit').text(unit);
      $('.iot-ledger-contract-duration').each(function () {
        const v = numberOrText(field($(this).attr('data-for') ?? '').val());
        $(this).text(typeof v === 'number' && v >= 60 ? '(' + duration(v) + ')' : '');
      });
    }

    function refreshSelector(): void {
      $select.empty();
      state.list.forEach((t, i) => {
        const id = isObject(t) && typeof t.id === 'string' && t.id ? t.id : '?';
        $('<option>').val(i).text(i + 1 + ': ' + id).appendTo($select);
      });
      $select.val(state.current);
      $('#iot-ledger-contract-select-row').toggle(state.list.length > 1);
      $('#iot-ledger-contract-remove').prop('disabled', state.list.length < 2);
    }

    function showProblem($message: JQuery, p: TermsProblem | null, count: number): void {
      if (!p) {
        $message.hide().empty();
        return;
      }
      $message
        .empty()
        .append($('<i>').addClass('fa fa-exclamation-triangle'))
        .append(' ')
        .append($('<span>').text(problemText(_, p, count)))
        .show();
    }

    // Shows the first problem; the field is marked when it is on the contract shown.
    function markProblem(p: TermsProblem | null): void {
      $form.find('.input-error').removeClass('input-error');
      showProblem($problem, p, state.list.length);
      if (!p || p.index !== state.current) return;
      const $field = field(p.field);
      if (p.field === 'parties' || p.field === 'subjects') {
        const $items = $field.editableList('items');
        const item = p.n ? $items[p.n - 1] : undefined;
        if (item) $(item).find('input').addClass('input-error');
      } else if ($field.is('input, select')) {
        $field.addClass('input-error');
      }
    }

    // Checks the contract on the form, then the others.
    function checkForm(): void {
      if (state.source !== 'form') return;
      state.list[state.current] = formToTerms(state.list[state.current]);
      const own = termsProblem(state.list[state.current]);
      markProblem(own ? { ...own, index: state.current } : listProblem(state.list));
      refreshSelector();
    }

    function termsText(): string {
      return JSON.stringify(state.list.length === 1 ? state.list[0] : state.list, null, 4);
    }

    // ---- lists of did:keys / device names

    function didList(name: string, placeholderKey: string, allowNames: boolean): void {
      field(name)
        .css('min-height', '40px')
        .editableList({
          addButton: _('iot-ledger-contract.label.add'),
          height: 'auto',
          removable: true,
          sortable: true,
          addItem(row: JQuery, _index: number, data: { value?: string } | undefined) {
            // attributes by attr(): $("<input>", {autocomplete}) would call the jQuery UI widget
            const $input = $('<input type="text">')
              .attr('spellcheck', 'false')
              .attr('autocomplete', 'off')
              .attr('placeholder', _(placeholderKey))
              .css('width', '100%')
              .css('font-family', 'monospace')
              .val(data && data.value ? data.value : '')
              .appendTo(row);
            $input.on('change keyup paste', () => {
              $input.toggleClass('input-error', entryProblem(String($input.val() || '').trim(), allowNames));
              checkForm();
            });
            if (!data || !data.value) $input.trigger('focus');
          },
          removeItem: checkForm,
          sortItems: checkForm,
        });
    }
    didList('parties', 'iot-ledger-contract.placeholder.party', false);
    didList('subjects', 'iot-ledger-contract.placeholder.subject', true);

    termsToForm(state.list[state.current]);
    refreshSelector();

    // ---- tabs: the form, the JSON, the deployed contract

    const editor = RED.editor.createEditor({
      id: 'iot-ledger-contract-json',
      mode: 'ace/mode/json',
      value: state.source === 'json' ? String(node.terms || '') : termsText(),
    });
    node.editor = editor;
    editor.getSession().on('change', () => {
      if (state.source !== 'json') return;
      const p = parseTerms(editor.getValue());
      showProblem($jsonProblem, p.problem ?? listProblem(p.list), p.list ? p.list.length : 1);
    });

    function toForm(): void {
      if (state.source === 'json') {
        const p = parseTerms(editor.getValue());
        state.brokenJson = !p.list || !p.list.every(isObject);
        if (p.list && !state.brokenJson) {
          state.list = p.list;
          state.current = Math.min(state.current, p.list.length - 1);
          state.source = 'form';
          termsToForm(state.list[state.current]);
        }
      }
      $('#iot-ledger-contract-broken').toggle(state.brokenJson);
      $form.toggle(!state.brokenJson);
      checkForm();
    }

    function toJson(): void {
      if (state.source === 'form') {
        state.list[state.current] = formToTerms(state.list[state.current]);
        state.source = 'json';
        editor.setValue(termsText(), -1);
      }
    }

    const tabs = RED.tabs.create({
      id: 'iot-ledger-contract-tabs',
      onchange(tab) {
        $('#iot-ledger-contract-tabs-content').children().hide();
        $('#' + tab.id).show();
        if (tab.id === 'iot-ledger-contract-tab-form') toForm();
        else if (tab.id === 'iot-ledger-contract-tab-json') {
          toJson();
          editor.resize();
        } else loadDeployed();
        RED.tray.resize();
      },
    });
    tabs.addTab({ id: 'iot-ledger-contract-tab-form', iconClass: 'fa fa-list-alt', label: _('iot-ledger-contract.tab.form') });
    tabs.addTab({ id: 'iot-ledger-contract-tab-json', iconClass: 'fa fa-code', label: _('iot-ledger-contract.tab.json') });
    tabs.addTab({ id: 'iot-ledger-contract-tab-signatures', iconClass: 'fa fa-pencil-square-o', label: _('iot-ledger-contract.tab.signatures') });

    // ---- form events

    $form
      .find('input[type=text], select')
      .not('.red-ui-editableList input, #iot-ledger-contract-select')
      .on('change keyup', () => {
        updateVisibility();
        checkForm();
      });
    field('mkt').on('change', () => {
      updateVisibility();
      checkForm();
    });
    $select.on('change', () => {
      state.list[state.current] = formToTerms(state.list[state.current]);
      state.current = Number($select.val()) || 0;
      termsToForm(state.list[state.current]);
      checkForm();
    });
    $('#iot-ledger-contract-add').on('click', (event) => {
      event.preventDefault();
      state.list[state.current] = formToTerms(state.list[state.current]);
      const t: TermsObject = $.extend(true, {}, TEMPLATE);
      t.id = 'contract-' + (state.list.length + 1);
      state.list.push(t);
      state.current = state.list.length - 1;
      termsToForm(t);
      checkForm();
    });
    $('#iot-ledger-contract-remove').on('click', (event) => {
      event.preventDefault();
      if (state.list.length < 2) return;
      state.list.splice(state.current, 1);
      state.current = Math.max(0, state.current - 1);
      termsToForm(state.list[state.current]);
      checkForm();
    });

    // ---- the deployed contract: parties, signatures, what to sign

    const $deployed = $('#iot-ledger-contract-deployed');
    const $deployedMessage = $('#iot-ledger-contract-deployed-message');

    function showDeployedMessage(icon: string, text: string): void {
      $deployedMessage
        .empty()
        .append($('<i>').addClass('fa ' + icon))
        .append(' ')
        .append($('<span>').text(text))
        .show();
    }

    function copyButton(text: string): JQuery {
      return $('<button type="button" class="red-ui-button red-ui-button-small"><i class="fa fa-clipboard"></i></button>')
        .attr('title', _('iot-ledger-contract.label.copy'))
        .on('click', function (event) {
          event.preventDefault();
          RED.clipboard.copyText(text, $(this), 'clipboard.copyMessageValue');
        });
    }

    function stateText(c: DeployedContract): string {
      const s = c.state || {};
      const unit = c.unit ? ' ' + c.unit : '';
      const status = ['no-data', 'compliant', 'excursion', 'violated'].includes(s.status ?? '') ? s.status : 'no-data';
      let text = _('iot-ledger-contract.state.' + status);
      if (s.last) text += ' · ' + _('iot-ledger-contract.deployed.last', { value: s.last.value + unit, time: new Date(s.last.time).toLocaleString() });
      return text;
    }

    function renderDeployed(contracts: DeployedContract[]): void {
      $deployed.empty();
      for (const c of contracts) {
        const signed = c.parties.filter((p) => p.signed).length;
        const box = $('<div class="iot-ledger-contract-box">').appendTo($deployed);
        const head = $('<div class="iot-ledger-contract-box-head">').appendTo(box);
        $('<b>').text(c.title).appendTo(head);
        $('<span class="iot-ledger-contract-muted">').text(' ' + c.id + ' v' + c.version).appendTo(head);
        $('<span class="iot-ledger-contract-badge">')
          .addClass(c.active ? 'iot-ledger-contract-badge-ok' : 'iot-ledger-contract-badge-wait')
          .text(c.active ? _('iot-ledger-contract.deployed.active') : _('iot-ledger-contract.deployed.awaiting', { signed, total: c.parties.length }))
          .appendTo(head);

        const table = $('<table class="iot-ledger-contract-parties">').appendTo(box);
        $('<tr>')
          .append($('<th>').text(_('iot-ledger-contract.deployed.signed')))
          .append($('<th>').text(_('iot-ledger-contract.deployed.party')))
          .appendTo(table);
        for (const p of c.parties) {
          const icon = p.signed ? $('<i class="fa fa-check iot-ledger-contract-signed">') : $('<i class="fa fa-clock-o iot-ledger-contract-unsigned">');
          icon.attr('title', _(p.signed ? 'iot-ledger-contract.deployed.hasSigned' : 'iot-ledger-contract.deployed.notSigned'));
          const cell = $('<td>').append($('<code>').text(shortDid(p.did)).attr('title', p.did)).append(' ').append(copyButton(p.did));
          $('<tr>').append($('<td>').append(icon)).append(cell).appendTo(table);
        }

        const payload = JSON.stringify(c.signingPayload);
        $('<div class="iot-ledger-contract-label">').text(_('iot-ledger-contract.deployed.payload')).appendTo(box);
        const payloadRow = $('<div style="display:flex; gap:4px; align-items:flex-start;">').appendTo(box);
        $('<textarea readonly rows="3" class="iot-ledger-contract-payload">').val(payload).appendTo(payloadRow);
        copyButton(payload).appendTo(payloadRow);
        $('<div class="iot-ledger-contract-label">').text(_('iot-ledger-contract.deployed.state')).appendTo(box);
        $('<div>').text(stateText(c)).appendTo(box);
      }
      $deployed.show();
    }

    function loadDeployed(): void {
      $deployed.hide();
      showDeployedMessage('fa-spinner fa-spin', _('iot-ledger-contract.deployed.loading'));
      $.getJSON<{ deployed?: boolean; contracts?: DeployedContract[] }>('iot-ledger/contracts/' + encodeURIComponent(node.id))
        .done((info) => {
          if (!info || info.deployed === false) {
            showDeployedMessage('fa-info-circle', _('iot-ledger-contract.deployed.notDeployed'));
            return;
          }
          $deployedMessage.hide();
          renderDeployed(info.contracts || []);
        })
        .fail((xhr) => {
          if (xhr.status === 404) {
            showDeployedMessage('fa-info-circle', _('iot-ledger-contract.deployed.notDeployed'));
            return;
          }
          const body = xhr.responseJSON || {};
          let error = body.error || xhr.statusText || String(xhr.status);
          if (body.code) error = body.code + ': ' + error;
          showDeployedMessage('fa-exclamation-triangle', _('iot-ledger-contract.deployed.error', { error }));
        });
    }
    $('#iot-ledger-contract-deployed-refresh').on('click', (event) => {
      event.preventDefault();
      loadDeployed();
    });

    // What oneditsave stores: the view edited last wins.
    $('#node-input-terms').data('iot-ledger-contract', {
      text(): string {
        let text: string;
        if (state.source === 'json') text = editor.getValue();
        else {
          state.list[state.current] = formToTerms(state.list[state.current]);
          text = termsText();
        }
        // Unchanged terms keep their text, so opening and closing the dialog changes nothing.
        const before = parseTerms(node.terms);
        const after = parseTerms(text);
        const one = (list: unknown[]): unknown => (list.length === 1 ? list[0] : list);
        return before.list && after.list && canonical(one(before.list)) === canonical(one(after.list)) ? node.terms : text;
      },
    });
    tabs.activateTab(state.source === 'json' ? 'iot-ledger-contract-tab-json' : 'iot-ledger-contract-tab-form');
  },
  oneditsave() {
    const $terms = $('#node-input-terms');
    const edited = $terms.data('iot-ledger-contract') as { text(): string } | undefined;
    if (edited) $terms.val(edited.text());
    if (this.editor) {
      this.editor.destroy();
      delete this.editor;
    }
  },
  oneditcancel() {
    if (this.editor) {
      this.editor.destroy();
      delete this.editor;
    }
  },
  oneditresize(size) {
    const height = size.height - ($('#iot-ledger-contract-top').outerHeight(true) ?? 0) - 110;
    $('#iot-ledger-contract-json').css('height', Math.max(150, height) + 'px');
    if (this.editor) this.editor.resize();
  },
});
