import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot, vectorsDir } from './support/paths';

// The public vectors travel with the repository, so a clone anywhere runs the tests. Each
// folder's PROVENANCE.md says where its files come from and lists them with their SHA-256.
describe('test vectors: in the repository, with their provenance', () => {
  const folders = ['cose', 'did-key', 'merkle', 'wycheproof'];

  it('are read from test/vectors in the source tree, not from outside it nor from dist', () => {
    assert.equal(vectorsDir, path.join(projectRoot, 'test', 'vectors'));
    assert.deepEqual(fs.readdirSync(vectorsDir).sort(), folders);
    assert.equal(fs.existsSync(path.join(projectRoot, 'dist', 'test', 'vectors')), false, 'the build copies no vectors');
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { files: string[] };
    assert.ok(!pkg.files.some((f) => f.startsWith('test')), 'the npm package ships no test data');
  });

  for (const folder of folders) {
    it(`${folder}: PROVENANCE.md names source, commit and licence, and lists exactly the folder's files with their SHA-256`, () => {
      const dir = path.join(vectorsDir, folder);
      const note = fs.readFileSync(path.join(dir, 'PROVENANCE.md'), 'utf8');
      assert.match(note, /Source: https:\/\/github\.com\/[\w.-]+\/[\w.-]+/);
      assert.match(note, /commit\s+`[0-9a-f]{40}`/);
      assert.match(note, /Licence: /);
      const listed = new Map([...note.matchAll(/^([0-9a-f]{64}) {2}(.+)$/gm)].map((m) => [m[2], m[1]]));
      const present: string[] = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.name !== 'PROVENANCE.md') present.push(path.relative(dir, p));
        }
      };
      walk(dir);
      assert.deepEqual([...listed.keys()].sort(), present.sort());
      for (const [file, sum] of listed) assert.equal(createHash('sha256').update(fs.readFileSync(path.join(dir, file))).digest('hex'), sum, file);
    });
  }
});
