'use strict';
// The two rows every edit form repeats, written once: in nodes/editor/<node>/form.html
//   <row-text id="node-input-x" icon="tag" label="KEY" placeholder="KEY"></row-text>
//   <row-check id="node-input-y" icon="ban" label="KEY" text="KEY"></row-check>
// become Node-RED's usual form-row markup (a label with a Font Awesome icon and an i18n text,
// then a text input 70% wide, or a checkbox with its own label; a row-check without icon and
// label is indented under the row before). Any other markup is left as it is.
const ROW = /^([ ]*)<row-(text|check)((?: [a-z]+="[^"]*")*)><\/row-\2>$/gm;
const ALLOWED = { text: ['id', 'icon', 'label', 'placeholder'], check: ['id', 'icon', 'label', 'text'] };
const REQUIRED = { text: ['id', 'icon', 'label'], check: ['id', 'text'] };

function attributes(kind, text, where) {
  const a = {};
  for (const [, name, value] of text.matchAll(/ ([a-z]+)="([^"]*)"/g)) {
    if (!ALLOWED[kind].includes(name)) throw new Error(`${where}: <row-${kind}> has no attribute ${name}`);
    a[name] = value;
  }
  for (const name of REQUIRED[kind]) if (!a[name]) throw new Error(`${where}: <row-${kind}> needs ${name}`);
  if (kind === 'check' && !a.icon !== !a.label) throw new Error(`${where}: <row-check> takes icon and label together`);
  return a;
}

function expandRows(html, where = 'form.html') {
  const out = html.replace(ROW, (_m, ind, kind, attrs) => {
    const a = attributes(kind, attrs, where);
    const label = a.label ? `<label for="${a.id}"><i class="fa fa-${a.icon}"></i> <span data-i18n="${a.label}"></span></label>` : '<label>&nbsp;</label>';
    const field =
      kind === 'text'
        ? [`<input type="text" id="${a.id}"${a.placeholder ? ` data-i18n="[placeholder]${a.placeholder}"` : ''} style="width:70%;">`]
        : [`<input type="checkbox" id="${a.id}" style="display:inline-block; width:auto; vertical-align:top;">`, `<label for="${a.id}" style="width:auto;" data-i18n="${a.text}"></label>`];
    return [`${ind}<div class="form-row">`, ...[label, ...field].map((l) => `${ind}    ${l}`), `${ind}</div>`].join('\n');
  });
  if (/<row-/.test(out)) throw new Error(`${where}: a <row-...> element not on a line of its own, or malformed`);
  return out;
}

module.exports = { expandRows };
