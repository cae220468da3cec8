'use strict';
// Prints the public data the example flows embed: did:keys of example parties, sensors and
// devices, vendor-signed firmware manifests and device-signed firmware reports. Every key is
// made here, used, and dropped: no private key is printed or written anywhere, so nobody
// (not even us) can sign anything more as these example identities.
//
//   npm run build && node scripts/make-example-data.js > /tmp/example-data.json
//
// The examples in examples/*.json were made with one run of this script; running it again
// gives new keys, so paste all of a run's values or none.
const { createHash } = require('node:crypto');
const lib = require('../dist/lib');

const { generateKey, keyToDid } = lib;
const { createManifest, createReport } = lib.firmware;

const did = (alg = 'Ed25519') => keyToDid(generateKey(alg));
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const vendorKey = generateKey('Ed25519');
const deviceA = generateKey('Ed25519');
const deviceB = generateKey('ES256');
const vendor = 'acme-cold';
const cls = 'freezer-sensor-v2';
const release = (version, sequence, size) => ({
  vendor,
  class: cls,
  version,
  sequence,
  digest: sha256(`${vendor} ${cls} firmware ${version}`),
  size,
  uri: `https://firmware.example.com/${vendor}/${cls}/${version}.bin`,
});
const r23 = release('2.3.0', 23, 491520);
const r24 = release('2.4.0', 24, 524288);
// Counters only (no ts): a report stamped with this machine's clock could look "from the
// future" to a gateway whose clock is behind.
const report = (r, counter) => createReport({ vendor, class: cls, version: r.version, sequence: r.sequence, digest: r.digest, counter }, deviceA);

const data = {
  coldRoom: {
    operator: did(),
    customer: did(),
    sensor: did(),
    exampleDevice: did(),
  },
  firmware: {
    vendor,
    class: cls,
    vendorDid: keyToDid(vendorKey),
    deviceA: keyToDid(deviceA),
    deviceB: keyToDid(deviceB),
    releases: { '2.3.0': r23, '2.4.0': r24 },
    manifests: {
      '2.3.0': createManifest(r23, vendorKey),
      '2.4.0': createManifest(r24, vendorKey),
    },
    reportsOfDeviceA: {
      runs230: report(r23, 1),
      runs240: report(r24, 2),
    },
  },
};
process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
