'use strict';
// Checks a Node.js version before CI installs anything: package.json's engines.node, and the
// lines engines.node cannot exclude. The compiled CommonJS require()s ESM-only packages
// (@noble/* 2.x), which Node loads without a flag from 20.19.0 on the 20 line and from 22.12.0
// on; 21.x and 22.0-22.11 need --experimental-require-module. engines.node stays ">=20.19.0"
// because the Flow Library's scorecard (node-red-dev P07) wants the latest Node-RED's minimum
// Node (22.9.0) to satisfy it. Plain ES5-era code on purpose: it has to run, and say so
// clearly, on the old versions it refuses.
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

/** Lines inside engines.node that still cannot require() an ES module without a flag. */
function lacksRequireEsm(version) {
  var v = parse(version);
  return v[0] === 21 || (v[0] === 22 && v[1] < 12);
}

/** Why `version` cannot run the package, or null when it can. */
function problem(version, range) {
  if (!satisfies(version, range)) return 'Node.js ' + range + ' is needed, found ' + version;
  if (lacksRequireEsm(version)) return 'Node.js ' + version + ' cannot require() ES modules without a flag: use 20.19 or later on the 20 line, or 22.12 or later';
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
