import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../support/paths';

// The <row-text> / <row-check> shorthand of the edit forms (scripts/form-rows.js) gives
// Node-RED's usual form-row markup, refuses what it does not know, and none is left in a build.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { expandRows } = require(path.join(projectRoot, 'scripts', 'form-rows.js')) as { expandRows: (html: string, where?: string) => string };

describe('edit form rows', () => {
  it('expands a text row and checkbox rows, keeping the indentation', () => {
    assert.equal(
      expandRows('  <row-text id="node-input-name" icon="tag" label="x.label.name" placeholder="x.placeholder.name"></row-text>\n'),
      [
        '  <div class="form-row">',
        '      <label for="node-input-name"><i class="fa fa-tag"></i> <span data-i18n="x.label.name"></span></label>',
        '      <input type="text" id="node-input-name" data-i18n="[placeholder]x.placeholder.name" style="width:70%;">',
        '  </div>',
        '',
      ].join('\n'),
    );
    assert.equal(
      expandRows('<row-check id="c" icon="ban" label="x.label.c" text="x.text.c"></row-check>\n<row-check id="d" text="x.text.d"></row-check>'),
      [
        '<div class="form-row">',
        '    <label for="c"><i class="fa fa-ban"></i> <span data-i18n="x.label.c"></span></label>',
        '    <input type="checkbox" id="c" style="display:inline-block; width:auto; vertical-align:top;">',
        '    <label for="c" style="width:auto;" data-i18n="x.text.c"></label>',
        '</div>',
        '<div class="form-row">',
        '    <label>&nbsp;</label>',
        '    <input type="checkbox" id="d" style="display:inline-block; width:auto; vertical-align:top;">',
        '    <label for="d" style="width:auto;" data-i18n="x.text.d"></label>',
        '</div>',
      ].join('\n'),
    );
  });

  it('refuses unknown or missing attributes and rows it cannot expand', () => {
    assert.throws(() => expandRows('<row-text id="a" icon="tag" label="k" size="3"></row-text>'), /no attribute size/);
    assert.throws(() => expandRows('<row-text id="a" label="k"></row-text>'), /needs icon/);
    assert.throws(() => expandRows('<row-check id="a" icon="ban" text="k"></row-check>'), /icon and label together/);
    assert.throws(() => expandRows('<div><row-text id="a" icon="tag" label="k"></row-text></div>'), /not on a line of its own/);
  });

  it('leaves no shorthand in the built editor files', () => {
    const dist = path.join(projectRoot, 'dist', 'nodes');
    const built = fs.readdirSync(dist).filter((f) => f.endsWith('.html'));
    assert.ok(built.length >= 14);
    for (const f of built) assert.doesNotMatch(fs.readFileSync(path.join(dist, f), 'utf8'), /<row-/, f);
  });
});
