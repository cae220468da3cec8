'use strict';
// Checks a Node.js version against package.json's engines.node, before CI installs anything.
// The compiled CommonJS require()s ESM-only packages (@noble/* 2.x), which Node loads without
// a flag only from 20.19.0 on the 20 line and from 22.12.0 on. Plain ES5-era code on purpose:
// it has to run, and say so clearly, on the old versions it refuses.
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

module.exports = { satisfies: satisfies };

if (require.main === module) {
  var range = require(path.join(__dirname, '..', 'package.json')).engines.node;
  var version = process.argv[2] || process.versions.node;
  if (!satisfies(version, range)) {
    console.error('error: Node.js ' + range + ' is needed, found ' + version);
    process.exit(1);
  }
}
