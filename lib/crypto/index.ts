// The crypto surface of the package: keys, did:key ids, signatures.
export * from './keys';
export * from './didkey';
export { sign, verifySignature, verifySignatureNoble, ecdsaDerToRaw } from './signature';
export { sha256 } from './hash';
