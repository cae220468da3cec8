/*
 * iot-ledger device signing library: a P-256 secure element (ATECC608-style) as signer.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "iotl_internal.h"

#include <string.h>

#if !(defined(IOTL_WITH_MBEDTLS) && IOTL_WITH_MBEDTLS) && !(defined(IOTL_WITH_SODIUM) && IOTL_WITH_SODIUM)
int iotl_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
  (void)msg;
  (void)len;
  (void)out;
  return IOTL_ERR_UNSUPPORTED;
}
#endif

#if defined(IOTL_WITH_MBEDTLS) && IOTL_WITH_MBEDTLS
int iotl_p256_check_point(const uint8_t xy[64]);
#endif

static int se_sign(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t sig[64]) {
  const iotl_se_key *key = (const iotl_se_key *)ctx;
  uint8_t digest[32];
  if (iotl_sha256(msg, msg_len, digest) != IOTL_OK) return -1;
  return key->sign_digest(key->ctx, digest, sig);
}

int iotl_signer_se(iotl_signer *s, iotl_se_key *key, const uint8_t public_xy[64], iotl_se_sign_fn sign_digest,
                   void *ctx) {
  uint8_t probe[32];
  if (!s || !key || !public_xy || !sign_digest) return IOTL_ERR_ARG;
  /* The digest needs a backend's SHA-256. */
  if (iotl_sha256((const uint8_t *)"", 0, probe) != IOTL_OK) return IOTL_ERR_UNSUPPORTED;
#if defined(IOTL_WITH_MBEDTLS) && IOTL_WITH_MBEDTLS
  if (iotl_p256_check_point(public_xy) != IOTL_OK) return IOTL_ERR_ARG;
#endif
  key->sign_digest = sign_digest;
  key->ctx = ctx;
  memset(s, 0, sizeof *s);
  s->alg = IOTL_ES256;
  /* SEC1 compressed: 02 or 03 by the parity of Y, then X. */
  s->public_key[0] = (uint8_t)(0x02 | (public_xy[63] & 1));
  memcpy(s->public_key + 1, public_xy, 32);
  s->public_key_len = 33;
  s->sign = se_sign;
  s->ctx = key;
  return IOTL_OK;
}
