/*
 * iot-ledger device signing library: the Ed25519 backend (libsodium).
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "iotl_internal.h"

#include <string.h>

#if defined(IOTL_WITH_SODIUM) && IOTL_WITH_SODIUM

#include <sodium.h>

static int ed25519_sign(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t sig[64]) {
  const iotl_ed25519_key *key = (const iotl_ed25519_key *)ctx;
  return crypto_sign_ed25519_detached(sig, NULL, msg, msg_len, key->secret);
}

int iotl_signer_ed25519(iotl_signer *s, iotl_ed25519_key *key, const uint8_t seed[32]) {
  uint8_t pk[32];
  if (!s || !key || !seed) return IOTL_ERR_ARG;
  if (sodium_init() < 0) return IOTL_ERR_CRYPTO;
  if (crypto_sign_ed25519_seed_keypair(pk, key->secret, seed) != 0) return IOTL_ERR_CRYPTO;
  memset(s, 0, sizeof *s);
  s->alg = IOTL_ED25519;
  memcpy(s->public_key, pk, 32);
  s->public_key_len = 32;
  s->sign = ed25519_sign;
  s->ctx = key;
  return IOTL_OK;
}

#if !(defined(IOTL_WITH_MBEDTLS) && IOTL_WITH_MBEDTLS)
int iotl_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
  if ((!msg && len) || !out) return IOTL_ERR_ARG;
  if (sodium_init() < 0) return IOTL_ERR_CRYPTO;
  return crypto_hash_sha256(out, msg, len) == 0 ? IOTL_OK : IOTL_ERR_CRYPTO;
}
#endif

#else

int iotl_signer_ed25519(iotl_signer *s, iotl_ed25519_key *key, const uint8_t seed[32]) {
  (void)s;
  (void)key;
  (void)seed;
  return IOTL_ERR_UNSUPPORTED;
}

#endif
