'use strict';
// Checks a Node.js version against package.json's engines.node before CI installs anything. The
// range names whole lines ("^18.20.4 || ^20.11.0 || >=22.0.0"): the odd, never-LTS lines 19 and
// 21 are outside it. What it rests on: the shipped code needs no require(esm) (the ESM-only
// packages are bundled, scripts/bundle-esm.js) and no zlib.crc32 (lib/encoding/crc32.ts), and the
// unit suite passes on 18.20.4 and 20.11.0 (the newest armv7l Node on npm, Raspberry Pi OS
// 32-bit; but for one test whose node:test mock timers differ there) and on 20.20.2, the e2e suite on
// 20.20.2 and 22, and .ci/arm-check runs the pack on armv7l 20.11.0 and arm64 20.20.2. Node-RED 4 itself needs 18.5+; node-red-dev's
// scorecard (P07) wants the latest Node-RED's minimum Node (22.9.0) inside the range. Plain
// ES5-era code on purpose: it has to run, and say so clearly, on the old versions it refuses.
// Usage: node scripts/check-node.js [version]   (default: the running Node)

var path = require('path');

function parse(v) {
  var m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(v).trim());
  if (!m) throw new Error('not a version: ' + v);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compare(a, b) {
  for (var i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

// One comparator: ">=X.Y.Z" or "^X.Y.Z" (same major, at least X.Y.Z).
function matches(version, comparator) {
  var c = comparator.trim();
  if (c.indexOf('>=') === 0) return compare(version, parse(c.slice(2))) >= 0;
  if (c.charAt(0) === '^') {
    var base = parse(c.slice(1));
    return version[0] === base[0] && compare(version, base) >= 0;
  }
  throw new Error('unsupported range part: ' + comparator);
}

/** True when `version` satisfies `range`, a "||" list of ">=X.Y.Z" / "^X.Y.Z" parts. */
function satisfies(version, range) {
  var v = parse(version);
  return range.split('||').some(function (part) {
    return matches(v, part);
  });
}

/** Why `version` cannot run the package, or null when it can. */
function problem(version, range) {
  if (!satisfies(version, range)) return 'Node.js ' + range + ' is needed, found ' + version;
  return null;
}

module.exports = { satisfies: satisfies, problem: problem };

if (require.main === module) {
  var range = require(path.join(__dirname, '..', 'package.json')).engines.node;
  var why = problem(process.argv[2] || process.versions.node, range);
  if (why) {
    console.error('error: ' + why);
    process.exit(1);
  }
}
