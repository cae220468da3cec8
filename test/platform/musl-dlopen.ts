/**
 * Preloaded (NODE_OPTIONS=--require) into every process of .ci/arm-check's add-on target: the
 * one property of musl (Alpine, the Home Assistant add-on) that matters to the pack, emulated
 * on a glibc Node.js. musl's loader cannot load a native module linked against glibc's
 * versioned symbols, and classic-level's linux-arm64 prebuild carries no libc tag, so on Alpine
 * node-gyp-build picks it and loading it fails: in the install script's load test (which then
 * tries to compile) and at run time. Here process.dlopen refuses such a file the same way.
 */
import * as fs from 'node:fs';

const glibcVersioned = Buffer.from('GLIBC_');
const dlopen = process.dlopen.bind(process);

process.dlopen = (module: object, filename: string, flags?: number): void => {
  if (fs.readFileSync(filename).includes(glibcVersioned)) {
    throw new Error(`Error loading shared library ${filename}: it needs glibc's versioned symbols, which musl does not have (musl emulated by .ci/arm-check)`);
  }
  dlopen(module, filename, flags);
};
