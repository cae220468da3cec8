// Dates, numbers and the contract chart of the Ledger sidebar: plain SVG sized to the tab.
import type { ContractSeries, SidebarRule } from './types';

const CHART_HEIGHT = 170;
const SVG_NS = 'http://www.w3.org/2000/svg';

export function group(n: unknown): string {
  return typeof n === 'number' ? n.toLocaleString('en-US').replace(/,/g, '\u202f') : '';
}

export function shortId(text: string, keep = 8): string {
  const s = String(text || '').replace(/^did:key:/, '');
  return s.length > 2 * keep + 1 ? s.slice(0, keep) + '\u2026' + s.slice(-keep) : s;
}

function pad2(n: number): string {
  return (n < 10 ? '0' : '') + n;
}

export function clock(ms: number, seconds: boolean): string {
  const d = new Date(ms);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (seconds ? ':' + pad2(d.getSeconds()) : '');
}

export function when(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) {
    return clock(ms, true);
  }
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + clock(ms, false);
}

export function formatValue(v: unknown): string {
  return typeof v === 'number' ? String(Number(v.toFixed(3))) : '';
}

function svg(tag: string, attrs: Record<string, string | number>, parent?: Element): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  Object.keys(attrs || {}).forEach(function (k) {
    el.setAttribute(k, String(attrs[k]));
  });
  if (parent) {
    parent.appendChild(el);
  }
  return el;
}

function svgTitle(el: SVGElement, text: string): SVGElement {
  svg('title', {}, el).textContent = text;
  return el;
}

// Round axis steps: 1, 2 or 5 times a power of ten.
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

function ruleLimits(rule: SidebarRule | undefined): number[] {
  if (!rule || typeof rule !== 'object') {
    return [];
  }
  if (rule.op === 'between') {
    return [rule.low, rule.high].filter((v): v is number => typeof v === 'number');
  }
  return typeof rule.limit === 'number' ? [rule.limit] : [];
}

export function ruleText(rule: SidebarRule | undefined, unit: string | undefined): string {
  const u = unit ? ' ' + unit : '';
  if (!rule || typeof rule !== 'object') {
    return '';
  }
  if (rule.op === 'between') {
    return formatValue(rule.low) + u + ' < value < ' + formatValue(rule.high) + u;
  }
  const ops: Record<string, string> = { '<': '<', '<=': '\u2264', '>': '>', '>=': '\u2265' };
  const op = ops[rule.op ?? ''] || rule.op;
  return 'value ' + op + ' ' + formatValue(rule.limit) + u;
}

/**
 * Draws the readings of a contract as a step line (a reading holds until the next), the
 * rule's limits as dashed lines, excursions as shaded bands (from the moment one became a
 * violation, in the violation colour) and
 * violations as markers. No chart library: plain SVG sized to the sidebar.
 */
export function drawChart(container: HTMLElement, series: ContractSeries, width: number, _: Translate): void {
  const unit = series.contract.unit ? ' ' + series.contract.unit : '';
  const points = series.points || [];
  const w = Math.max(220, Math.floor(width));
  const h = CHART_HEIGHT;
  const m = { left: 44, right: 12, top: 12, bottom: 22 };
  const root = svg('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, 'class': 'iot-ledger-sidebar-chart' });
  container.appendChild(root);
  const first = points[0];
  const last = points.at(-1);
  if (!first || !last) {
    const empty = svg('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle', 'class': 'iot-ledger-sidebar-chart-label' }, root);
    empty.textContent = _('chart.empty');
    return;
  }
  const t0 = first.time;
  let t1 = Math.max(series.to || t0, last.time);
  if (t1 - t0 < 10000) {
    t1 = t0 + 10000;
  }
  const limits = ruleLimits(series.contract.rule);
  const values = points.map(function (p) { return p.value; }).concat(limits);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const padding = Math.max((hi - lo) * 0.1, 0.5);
  lo -= padding;
  hi += padding;
  const x = function (t: number): number {
    return m.left + ((t - t0) / (t1 - t0)) * (w - m.left - m.right);
  };
  const y = function (v: number): number {
    return m.top + ((hi - v) / (hi - lo)) * (h - m.top - m.bottom);
  };
  const plotBottom = h - m.bottom;

  // horizontal grid and value labels
  const step = niceStep(hi - lo, 4);
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
    const gy = y(v);
    svg('line', { x1: m.left, x2: w - m.right, y1: gy, y2: gy, 'class': 'iot-ledger-sidebar-chart-grid' }, root);
    const label = svg('text', { x: m.left - 4, y: gy + 3, 'text-anchor': 'end', 'class': 'iot-ledger-sidebar-chart-label' }, root);
    label.textContent = formatValue(Math.abs(v) < step / 1e6 ? 0 : v);
  }
  // time labels: start, middle, end
  const span = t1 - t0;
  [t0, t0 + span / 2, t1].forEach(function (t, i) {
    const tl = svg('text', {
      x: x(t),
      y: h - 6,
      'text-anchor': i === 0 ? 'start' : i === 2 ? 'end' : 'middle',
      'class': 'iot-ledger-sidebar-chart-label'
    }, root);
    tl.textContent = span > 86400000 ? when(t) : clock(t, span < 600000);
  });

  // excursions: shaded from start to end (or the end of the chart while open), the part
  // before the violation in the excursion colour, the violation from when it began
  function band(from: number, to: number, cls: string, title: string): void {
    const a = Math.max(from, t0);
    const b = Math.min(to, t1);
    if (b < a) {
      return;
    }
    svgTitle(svg('rect', {
      x: x(a),
      y: m.top,
      width: Math.max(2, x(b) - x(a)),
      height: plotBottom - m.top,
      'class': cls
    }, root), title);
  }
  (series.excursions || []).forEach(function (e) {
    const end = e.end === null ? t1 : e.end;
    const to = e.end === null ? _('chart.open') : when(e.end);
    // Older runtimes send no violatedAt: the whole violated excursion is then a violation.
    const violatedAt = !e.violated ? null : typeof e.violatedAt === 'number' ? e.violatedAt : e.start;
    if (violatedAt === null || violatedAt > e.start) {
      band(e.start, violatedAt === null ? end : violatedAt, 'iot-ledger-sidebar-chart-excursion',
        _('chart.excursion', { from: when(e.start), to: violatedAt === null ? to : when(violatedAt) }));
    }
    if (violatedAt !== null) {
      band(violatedAt, end, 'iot-ledger-sidebar-chart-violation',
        _('chart.violatedExcursion', { from: when(violatedAt), to: to, start: when(e.start) }));
    }
  });

  // the limits
  limits.forEach(function (l) {
    const ly = y(l);
    svgTitle(svg('line', { x1: m.left, x2: w - m.right, y1: ly, y2: ly, 'class': 'iot-ledger-sidebar-chart-limit' }, root),
      _('chart.limit', { value: formatValue(l) + unit }));
  });

  // the readings, as a step line
  let d = 'M' + x(first.time).toFixed(1) + ',' + y(first.value).toFixed(1);
  for (const p of points.slice(1)) {
    d += 'H' + x(p.time).toFixed(1) + 'V' + y(p.value).toFixed(1);
  }
  d += 'H' + x(t1).toFixed(1);
  svg('path', { d: d, 'class': 'iot-ledger-sidebar-chart-line' }, root);
  if (points.length <= 80) {
    points.forEach(function (p) {
      svgTitle(svg('circle', { cx: x(p.time), cy: y(p.value), r: 2.2, 'class': 'iot-ledger-sidebar-chart-point' }, root),
        formatValue(p.value) + unit + ' \u00b7 ' + when(p.time) + ' \u00b7 #' + p.index);
    });
  }

  // violations and gaps: markers on the top and bottom edges
  (series.events || []).forEach(function (e) {
    if (e.time < t0 || e.time > t1) {
      return;
    }
    const ex = x(e.time);
    if (e.type === 'violation') {
      svgTitle(svg('path', { d: 'M' + (ex - 5) + ',' + m.top + 'h10l-5,7z', 'class': 'iot-ledger-sidebar-chart-marker' }, root),
        _('chart.violation', { time: when(e.time) }));
    } else if (e.type === 'data.gap' || e.type === 'mkt.exceeded') {
      svgTitle(svg('path', { d: 'M' + (ex - 4) + ',' + plotBottom + 'l4,-6l4,6z', 'class': 'iot-ledger-sidebar-chart-gap' }, root),
        e.type + ' \u00b7 ' + when(e.time));
    }
  });
  svg('line', { x1: m.left, x2: w - m.right, y1: plotBottom, y2: plotBottom, 'class': 'iot-ledger-sidebar-chart-axis' }, root);
}
