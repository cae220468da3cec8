// The Ledger sidebar tab: the ledgers open in this Node-RED, their contracts (with a chart),
// blocks, audit, anchors, devices and security events, and the replicas. It fetches the state
// once when shown and then gets it pushed by the runtime over RED.comms (SIDEBAR_TOPIC) as it changes.
import { clock, drawChart, group, formatValue, ruleText, shortId, when } from './chart';
import type { ContractSeries, SidebarContract, SidebarData, SidebarLedger, SidebarReplica } from './types';

/** The comms topic the runtime publishes sidebar updates on (nodes/lib/sidebar-push.ts). */
const SIDEBAR_TOPIC = 'iot-ledger/sidebar';
const SERIES_LIMIT = 200;
const STATUS: Record<string, string> = {
  compliant: 'iot-ledger-sidebar-ok',
  excursion: 'iot-ledger-sidebar-warn',
  violated: 'iot-ledger-sidebar-error',
  'no-data': 'iot-ledger-sidebar-idle',
};
const SECTIONS = ['ledger', 'contracts', 'blocks', 'audit', 'anchors', 'devices', 'security'] as const;

RED.plugins.registerPlugin('iot-ledger-sidebar', {
  onadd: function () {
    const plugin = this;
    const _: Translate = function (key, args) {
      const full = 'iot-ledger-sidebar.' + key;
      return typeof plugin._ === 'function' ? plugin._(full, args) : RED._('node-red-contrib-iot-ledger/iot-ledger-sidebar:' + full, args);
    };
    const selected: { ledger: string | null; contract: string | null } = { ledger: null, contract: null };
    let busy = false;
    let lastSeries: ContractSeries | null = null;
    let lastData: SidebarData | null = null;

    const content = $('<div class="iot-ledger-sidebar">');
    const header = $('<div class="red-ui-sidebar-header iot-ledger-sidebar-header">').appendTo(content);
    const $ledgerSelect = $('<select class="iot-ledger-sidebar-select">').hide().appendTo(header);
    const $updated = $('<span class="iot-ledger-sidebar-updated">').appendTo(header);
    const $refresh = $('<button type="button" class="red-ui-sidebar-header-button"><i class="fa fa-refresh"></i></button>')
      .appendTo(header)
      .on('click', function (event) {
        event.preventDefault();
        refresh();
      });
    RED.popover.tooltip($refresh, _('refresh'));

    const body = $('<div class="iot-ledger-sidebar-body">').appendTo(content);
    const $replicas = $('<div class="iot-ledger-sidebar-section iot-ledger-sidebar-replicas">').hide().appendTo(body);
    const $message = $('<div class="iot-ledger-sidebar-message">').hide().appendTo(body);
    const stackContainer = $('<div>').appendTo(body);
    const stack = RED.stack.create({ container: stackContainer });
    const sections = {} as Record<(typeof SECTIONS)[number], StackSection>;
    SECTIONS.forEach(function (name) {
      sections[name] = stack.add({ title: _('section.' + name), collapsible: true, expanded: true });
      sections[name].content.addClass('iot-ledger-sidebar-section');
    });
    stackContainer.hide();

    function showMessage(icon: string, text: string): void {
      stackContainer.hide();
      $message.empty()
        .append($('<i>').addClass('fa ' + icon))
        .append(' ')
        .append($('<span>').text(text))
        .show();
    }

    function copyButton(text: string): JQuery {
      return $('<button type="button" class="red-ui-button red-ui-button-small iot-ledger-sidebar-copy"><i class="fa fa-clipboard"></i></button>')
        .attr('title', _('copy'))
        .on('click', function (event) {
          event.preventDefault();
          event.stopPropagation();
          RED.clipboard.copyText(text, $(this), 'clipboard.copyMessageValue');
        });
    }

    function row(table: JQuery, label: string, value: JQuery | string): JQuery {
      const tr = $('<tr>').appendTo(table);
      $('<td>').text(label).appendTo(tr);
      const td = $('<td>').appendTo(tr);
      if (typeof value === 'string') {
        td.text(value);
      } else {
        td.append(value);
      }
      return tr;
    }

    function idCell(text: string, keep: number): JQuery {
      return $('<span class="iot-ledger-sidebar-id">')
        .append($('<span class="iot-ledger-sidebar-code">').text(shortId(text, keep)).attr('title', text))
        .append(copyButton(text));
    }

    function setTitle(section: StackSection, text: string, count?: string | number): void {
      section.title.text(text);
      if (count !== undefined) {
        section.title.append($('<span class="iot-ledger-sidebar-count">').text(count));
      }
    }

    function renderLedger(l: SidebarLedger): void {
      const c = sections.ledger.content.empty();
      setTitle(sections.ledger, _('section.ledger') + ' \u00b7 ' + l.name);
      const table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
      row(table, _('ledger.records'), group(l.size) + (l.pending ? ' ' + _('ledger.pending', { count: group(l.pending) }) : ''));
      row(table, _('ledger.blocks'), group(l.blocks));
      row(table, _('ledger.gateway'), idCell(l.gatewayDid, 8));
      row(table, _('ledger.verifier'), idCell(l.verifierKey, 7));
      row(table, _('ledger.dir'), $('<span class="iot-ledger-sidebar-muted iot-ledger-sidebar-wrap">').text(l.dir));
      const w = l.witnesses;
      if (w && w.of > 0) {
        const names = w.witnesses.map(function (x) { return x.name + ': ' + (x.last || '…') + (typeof x.size === 'number' ? ' @' + x.size : ''); }).join('\n');
        row(table, _('ledger.witnesses'), $('<span>').text(_('ledger.cosigned', { k: w.cosigned, n: w.of, quorum: w.quorum }))
          .css('color', w.met ? '' : '#c00').attr('title', names));
      }
    }

    function renderBlocks(l: SidebarLedger): void {
      const c = sections.blocks.content.empty();
      setTitle(sections.blocks, _('section.blocks'));
      if (!l.latestBlocks.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('blocks.none')).appendTo(c);
        return;
      }
      const table = $('<table class="iot-ledger-sidebar-table">').appendTo(c);
      $('<tr>')
        .append($('<th>').text(_('blocks.height')))
        .append($('<th>').text(_('blocks.records')))
        .append($('<th>').text(_('blocks.sealed')))
        .append($('<th>').text(_('blocks.root')))
        .appendTo(table);
      l.latestBlocks.forEach(function (b) {
        $('<tr>')
          .append($('<td>').text('#' + b.height))
          .append($('<td>').text(group(b.records)).attr('title', _('blocks.treeSize', { size: group(b.size) })))
          .append($('<td>').text(when(b.time)))
          .append($('<td>').append($('<span class="iot-ledger-sidebar-code">').text(b.root.slice(0, 12) + '\u2026').attr('title', b.root)))
          .appendTo(table);
      });
    }

    function renderAudit(l: SidebarLedger): void {
      const c = sections.audit.content.empty();
      const a = l.lastAudit;
      const box = $('<div class="iot-ledger-sidebar-audit">').appendTo(c);
      if (!a) {
        box.addClass('iot-ledger-sidebar-idle')
          .append($('<i class="fa fa-info-circle">'))
          .append(' ')
          .append($('<span>').text(_('audit.none')));
        return;
      }
      if (a.clean) {
        box.addClass('iot-ledger-sidebar-ok')
          .append($('<i class="fa fa-check-circle">'))
          .append(' ')
          .append($('<b>').text(_('audit.clean', { count: group(a.size) })));
      } else {
        const f = a.first || {};
        const where = typeof f.index === 'number' ? '#' + f.index : typeof f.height === 'number' ? _('audit.block', { height: f.height }) : (f.kind || '?');
        box.addClass('iot-ledger-sidebar-error')
          .append($('<i class="fa fa-exclamation-triangle">'))
          .append(' ')
          .append($('<b>').text(_('audit.tampered', { where: where })));
        const table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
        if (f.kind) {
          row(table, _('audit.kind'), f.kind);
        }
        if (typeof f.height === 'number') {
          row(table, _('audit.height'), '#' + f.height);
        }
        if (typeof f.time === 'number') {
          row(table, _('audit.time'), when(f.time));
        }
        if (f.device) {
          row(table, _('audit.device'), idCell(f.device, 8));
        }
        if (f.detail) {
          row(table, _('audit.detail'), $('<span class="iot-ledger-sidebar-wrap">').text(f.detail));
        }
      }
      $('<div class="iot-ledger-sidebar-muted">').text(_('audit.at', { time: when(a.at) })).appendTo(c);
    }

    function renderSecurity(l: SidebarLedger): void {
      const c = sections.security.content.empty();
      const sec = l.security || { total: 0, byCode: {}, shed: 0, waiting: 0, recent: [] };
      setTitle(sections.security, _('section.security'), sec.total ? group(sec.total) : undefined);
      if (!sec.total && !sec.recent.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('security.none')).appendTo(c);
        return;
      }
      const table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
      Object.keys(sec.byCode).sort().forEach(function (code) {
        row(table, code, group(sec.byCode[code]));
      });
      const notes = [_('security.since', { count: group(sec.total) })];
      if (sec.shed) {
        notes.push(_('security.shed', { count: group(sec.shed) }));
      }
      if (sec.waiting) {
        notes.push(_('security.waiting', { count: group(sec.waiting) }));
      }
      $('<div class="iot-ledger-sidebar-muted">').text(notes.join(' \u00b7 ')).appendTo(c);
      if (!sec.recent.length) {
        return;
      }
      $('<div class="iot-ledger-sidebar-muted">').text(_('security.recent')).appendTo(c);
      const recent = $('<table class="iot-ledger-sidebar-table">').appendTo(c);
      sec.recent.forEach(function (r) {
        $('<tr>')
          .append($('<td>').text('#' + r.index))
          .append($('<td>').text(_('security.count', { count: group(r.count) }) + ' ' + r.code))
          .append($('<td>').append(r.device ? idCell(r.device, 6) : $('<span class="iot-ledger-sidebar-wrap">').text(r.topic || '')))
          .append($('<td>').text(when(r.last)))
          .appendTo(recent);
      });
    }

    // Anchor nodes on this ledger: last confirmed anchor, the pending one, the last error.
    function renderAnchors(l: SidebarLedger): void {
      const c = sections.anchors.content.empty();
      const list = l.anchors || [];
      if (!list.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('anchors.none')).appendTo(c);
        return;
      }
      list.forEach(function (a) {
        const table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
        row(table, _('anchors.chain'), _('anchors.chainContract', { chain: a.chainId, contract: a.contract }));
        const last = a.lastConfirmed;
        row(table, _('anchors.confirmed'), last
          ? _('anchors.at', { size: group(last.size), block: last.block, time: when(last.blockTime) })
          : _('anchors.never'));
        const p = a.pending;
        if (p) {
          row(table, _('anchors.pending'), typeof p.block === 'number'
            ? _('anchors.mined', { size: group(p.size), block: p.block, confirmations: p.confirmations })
            : _('anchors.sent', { size: group(p.size), bumps: p.bumps }));
        }
        if (a.lastError) {
          row(table, _('anchors.error'), $('<span class="iot-ledger-sidebar-wrap">').text(a.lastError.code + ': ' + a.lastError.message));
        }
      });
    }

    function renderDevices(l: SidebarLedger): void {
      const c = sections.devices.content.empty();
      const count = l.deviceCount ?? l.devices.length;
      setTitle(sections.devices, _('section.devices'), count);
      if (!l.devices.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('devices.none')).appendTo(c);
        return;
      }
      const table = $('<table class="iot-ledger-sidebar-table">').appendTo(c);
      l.devices.forEach(function (d) {
        const state = $('<td>');
        if (d.revoked) {
          $('<span class="iot-ledger-sidebar-badge iot-ledger-sidebar-error">').text(_('devices.revoked')).appendTo(state);
        } else {
          $('<span class="iot-ledger-sidebar-badge iot-ledger-sidebar-ok">').text(_('devices.active')).appendTo(state);
        }
        if (d.tofu) {
          $('<span class="iot-ledger-sidebar-badge iot-ledger-sidebar-warn">').text('TOFU').attr('title', _('devices.tofu')).appendTo(state);
        }
        $('<tr>')
          .toggleClass('iot-ledger-sidebar-revoked', !!d.revoked)
          .append($('<td>').text(d.name))
          .append($('<td>').append(idCell(d.did, 6)))
          .append(state)
          .appendTo(table);
      });
      if (count > l.devices.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('devices.more', { count: count - l.devices.length })).appendTo(c);
      }
    }

    function contractStatus(k: SidebarContract): { cls: string; text: string } {
      if (!k.active) {
        return { cls: 'iot-ledger-sidebar-idle', text: _('contracts.awaiting') };
      }
      const cls = STATUS[k.status] || 'iot-ledger-sidebar-idle';
      return { cls: cls, text: _('status.' + (STATUS[k.status] ? k.status : 'no-data')) };
    }

    function renderContracts(l: SidebarLedger): void {
      const c = sections.contracts.content.empty();
      setTitle(sections.contracts, _('section.contracts'), l.contracts.length);
      if (!l.contracts.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('contracts.none')).appendTo(c);
        selected.contract = null;
        return;
      }
      const first = l.contracts[0];
      if (first && !l.contracts.some(function (k) { return k.termsHash === selected.contract; })) {
        selected.contract = first.termsHash;
      }
      const list = $('<div class="iot-ledger-sidebar-contracts">').appendTo(c);
      l.contracts.forEach(function (k) {
        const s = contractStatus(k);
        const item = $('<div class="iot-ledger-sidebar-contract">')
          .toggleClass('selected', k.termsHash === selected.contract)
          .attr('title', _('contracts.select'))
          .on('click', function () {
            selected.contract = k.termsHash;
            list.children().removeClass('selected');
            item.addClass('selected');
            loadSeries(l);
          })
          .appendTo(list);
        const line = $('<div class="iot-ledger-sidebar-contract-line">').appendTo(item);
        $('<i class="fa fa-circle iot-ledger-sidebar-dot">').addClass(s.cls).appendTo(line);
        $('<span class="iot-ledger-sidebar-contract-title">').text(k.title).appendTo(line);
        $('<span class="iot-ledger-sidebar-contract-status">').addClass(s.cls).text(s.text).appendTo(line);
        const meta = $('<div class="iot-ledger-sidebar-muted">').appendTo(item);
        const parts = [k.id, ruleText(k.rule, k.unit)];
        if (k.last) {
          parts.push(_('contracts.last', { value: formatValue(k.last.value) + (k.unit ? ' ' + k.unit : ''), time: when(k.last.time) }));
        }
        meta.text(parts.filter(Boolean).join(' \u00b7 '));
      });
      $('<div class="iot-ledger-sidebar-chart-box">').appendTo(c);
      if (lastSeries && lastSeries.contract.termsHash === selected.contract && lastSeries.ledger === l.name) {
        renderSeries(lastSeries);
      }
      loadSeries(l);
    }

    function renderSeries(series: ContractSeries): void {
      const box = sections.contracts.content.find('.iot-ledger-sidebar-chart-box').empty();
      if (!box.length) {
        return;
      }
      const head = $('<div class="iot-ledger-sidebar-chart-head">').appendTo(box);
      $('<b>').text(series.contract.title).appendTo(head);
      if (!series.points.length) {
        $('<div class="iot-ledger-sidebar-empty">').text(_('chart.empty')).appendTo(box);
        return;
      }
      $('<span class="iot-ledger-sidebar-muted">')
        .text(' \u00b7 ' + _('chart.points', { count: series.points.length, metric: series.contract.metric }))
        .appendTo(head);
      const width = box.width() || sections.contracts.content.width() || 280;
      const element = box[0];
      if (element) drawChart(element, series, width, _);
      const legend = $('<div class="iot-ledger-sidebar-legend">').appendTo(box);
      const keys: [string, string][] = [['line', 'legend.reading'], ['limit', 'legend.limit'], ['excursion', 'legend.excursion'], ['violation', 'legend.violation']];
      keys.forEach(function (e) {
        $('<span>')
          .append($('<i class="iot-ledger-sidebar-key">').addClass('iot-ledger-sidebar-key-' + e[0]))
          .append($('<span>').text(_(e[1])))
          .appendTo(legend);
      });
    }

    function loadSeries(l: SidebarLedger): void {
      if (!selected.contract) {
        return;
      }
      const hash = selected.contract;
      $.getJSON<ContractSeries>('iot-ledger/sidebar/series', { ledger: l.name, contract: hash, limit: SERIES_LIMIT })
        .done(function (series) {
          if (selected.contract !== hash) {
            return;
          }
          lastSeries = series;
          renderSeries(series);
        })
        .fail(function (xhr) {
          const box = sections.contracts.content.find('.iot-ledger-sidebar-chart-box').empty();
          const error = (xhr.responseJSON && xhr.responseJSON.error) || xhr.statusText || String(xhr.status);
          $('<div class="iot-ledger-sidebar-empty">').text(_('chart.error', { error: error })).appendTo(box);
        });
    }

    // Replica nodes of this runtime: records held and lag behind their origin.
    function renderReplicas(replicas: SidebarReplica[]): void {
      $replicas.empty().toggle(replicas.length > 0);
      if (!replicas.length) {
        return;
      }
      $('<b>').text(_('replicas.title')).appendTo($replicas);
      const table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo($replicas);
      replicas.forEach(function (r) {
        const state = r.state.indexOf('stopped') === 0 ? _('replicas.' + r.state) : _('replicas.lag', { size: group(r.size), lag: group(r.lag) });
        const value = $('<span>').text(state);
        if (r.error) {
          value.attr('title', r.error.code + ': ' + r.error.message).addClass('iot-ledger-sidebar-muted');
        }
        row(table, r.name || r.url, value);
      });
    }

    function render(ledgers: SidebarLedger[]): void {
      if (!ledgers.length) {
        $ledgerSelect.hide();
        showMessage('fa-info-circle', _('none'));
        return;
      }
      const names = ledgers.map(function (l) { return l.name; });
      const at = selected.ledger !== null ? names.indexOf(selected.ledger) : -1;
      const l = ledgers[at >= 0 ? at : 0];
      if (!l) return;
      const current = l.name;
      selected.ledger = current;
      $ledgerSelect.empty();
      names.forEach(function (n) {
        $('<option>').val(n).text(n).appendTo($ledgerSelect);
      });
      $ledgerSelect.val(current).toggle(ledgers.length > 1);
      $message.hide();
      stackContainer.show();
      renderLedger(l);
      renderContracts(l);
      renderBlocks(l);
      renderAnchors(l);
      renderAudit(l);
      renderDevices(l);
      renderSecurity(l);
    }

    function show(data: SidebarData): void {
      lastData = data;
      renderReplicas(data.replicas || []);
      if (!(data.ledgers || []).length && (data.replicas || []).length) {
        stackContainer.hide();
        $message.hide();
      } else {
        render(data.ledgers || []);
      }
      $updated.text(_('updated', { time: clock(Date.now(), true) }));
    }

    // One fetch over the admin route (when the tab is first shown, on the button, after a
    // deploy); from then on the runtime pushes every change.
    function refresh(): void {
      if (busy) {
        return;
      }
      busy = true;
      $refresh.find('i').addClass('fa-spin');
      $.getJSON<SidebarData>('iot-ledger/sidebar')
        .done(function (data) {
          show(data || {});
        })
        .fail(function (xhr) {
          if (xhr.status === 404) {
            showMessage('fa-exclamation-triangle', _('noEndpoint'));
            return;
          }
          const body = xhr.responseJSON || {};
          showMessage('fa-exclamation-triangle', _('error', { error: body.error || xhr.statusText || String(xhr.status) }));
        })
        .always(function () {
          busy = false;
          $refresh.find('i').removeClass('fa-spin');
        });
    }

    $ledgerSelect.on('change', function () {
      selected.ledger = $ledgerSelect.val();
      selected.contract = null;
      lastSeries = null;
      if (lastData) {
        show(lastData);
      } else {
        refresh();
      }
    });

    // Pushed by the runtime, at most about once a second, whenever a ledger changes.
    let fetched = false;
    RED.comms.subscribe(SIDEBAR_TOPIC, function (_topic, data) {
      if (data && typeof data === 'object') {
        show(data);
      }
    });
    RED.events.on('sidebar:resize', function () {
      if (lastSeries && content.is(':visible')) {
        renderSeries(lastSeries);
      }
    });
    RED.events.on('deploy', function () {
      setTimeout(function () {
        if (content.is(':visible')) {
          refresh();
        }
      }, 1000);
    });

    RED.sidebar.addTab({
      id: 'iot-ledger',
      label: _('label'),
      name: _('name'),
      iconClass: 'fa fa-chain',
      content: content,
      enableOnEdit: true,
      onchange: function () {
        if (!fetched) {
          fetched = true;
          refresh();
        }
      }
    });
  }
});
