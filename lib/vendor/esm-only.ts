// The ESM-only dependencies (@noble/curves 2.x, @noble/hashes, @scure/base 2.x), re-exported from
// one module. tsc compiles this file to a require() of each package, which needs Node's
// require(esm) (20.19+, 22.12+); scripts/build.js then replaces dist/lib/vendor/esm-only.js with a
// self-contained CommonJS bundle of them (scripts/bundle-esm.js), so the shipped pack runs on
// Node versions without require(esm), such as the newest armv7l Node the npm registry has (20.11).
// Import these packages through this module only (test/engines.test.ts checks that).
export { ed25519 } from '@noble/curves/ed25519.js';
export { p256 } from '@noble/curves/nist.js';
export { base58, base64, base64urlnopad, hex } from '@scure/base';
