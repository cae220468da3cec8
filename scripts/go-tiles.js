// Regenerates test/tiles/go-vector.txt with Go's golang.org/x/mod/sumdb/tlog (Debian
// golang-golang-x-mod-dev, offline GOPATH mode). Run after `npm run build`.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { encodeRecord } = require('../dist/lib/ledger');
const { VECTOR_SIZE, vectorInput } = require('../dist/test/tiles/fixture');

const parts = [];
for (let i = 0; i < VECTOR_SIZE; i++) {
  const bytes = encodeRecord({ v: 1, ...vectorInput(i) });
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  parts.push(len, Buffer.from(bytes));
}
const out = execFileSync('go', ['run', path.join(__dirname, 'go-tiles', 'main.go')], {
  input: Buffer.concat(parts),
  env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '-mod=mod', GOCACHE: path.join(require('node:os').tmpdir(), 'go-cache') },
  maxBuffer: 64 * 1024 * 1024,
});
fs.writeFileSync(path.join(__dirname, '..', 'test', 'tiles', 'go-vector.txt'), out);
console.log(`wrote ${out.toString().split('\n').length - 1} lines`);
