/*
 * iot-ledger device signing library: the ES256 backend (mbedTLS 2.28 or 3.x).
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * ECDSA P-256 with SHA-256, RFC 6979 deterministic nonces, signature as raw r||s.
 * mbedTLS allocates its big numbers on its own heap (or its memory_buffer_alloc pool).
 */
#include "iotl_internal.h"

#include <string.h>

#if defined(IOTL_WITH_MBEDTLS) && IOTL_WITH_MBEDTLS

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

int iotl_sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
  if ((!msg && len) || !out) return IOTL_ERR_ARG;
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_sha256(msg, len, out, 0) == 0 ? IOTL_OK : IOTL_ERR_CRYPTO;
#else
  return mbedtls_sha256_ret(msg, len, out, 0) == 0 ? IOTL_OK : IOTL_ERR_CRYPTO;
#endif
}

static int es256_sign(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t sig[64]) {
  const iotl_es256_key *key = (const iotl_es256_key *)ctx;
  mbedtls_ecp_group grp;
  mbedtls_mpi d, r, s;
  uint8_t hash[32];
  int rc;
  if (iotl_sha256(msg, msg_len, hash) != IOTL_OK) return -1;
  mbedtls_ecp_group_init(&grp);
  mbedtls_mpi_init(&d);
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
  if (rc == 0) rc = mbedtls_mpi_read_binary(&d, key->d, 32);
  if (rc == 0)
    rc = mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &d, hash, 32, MBEDTLS_MD_SHA256, key->rng, key->rng_ctx);
  if (rc == 0) rc = mbedtls_mpi_write_binary(&r, sig, 32);
  if (rc == 0) rc = mbedtls_mpi_write_binary(&s, sig + 32, 32);
  mbedtls_mpi_free(&s);
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&d);
  mbedtls_ecp_group_free(&grp);
  return rc;
}

int iotl_signer_es256(iotl_signer *s, iotl_es256_key *key, const uint8_t d[32], iotl_rng_fn rng, void *rng_ctx) {
  mbedtls_ecp_group grp;
  mbedtls_mpi md;
  mbedtls_ecp_point q;
  size_t olen = 0;
  uint8_t pub[33];
  int rc;
  if (!s || !key || !d || !rng) return IOTL_ERR_ARG;
  mbedtls_ecp_group_init(&grp);
  mbedtls_mpi_init(&md);
  mbedtls_ecp_point_init(&q);
  rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
  if (rc == 0) rc = mbedtls_mpi_read_binary(&md, d, 32);
  if (rc == 0 && mbedtls_ecp_check_privkey(&grp, &md) != 0) rc = 1; /* 0 or >= the group order */
  if (rc == 0) rc = mbedtls_ecp_mul(&grp, &q, &md, &grp.G, rng, rng_ctx);
  if (rc == 0) rc = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_COMPRESSED, &olen, pub, sizeof pub);
  mbedtls_ecp_point_free(&q);
  mbedtls_mpi_free(&md);
  mbedtls_ecp_group_free(&grp);
  if (rc != 0 || olen != 33) return rc == 1 ? IOTL_ERR_ARG : IOTL_ERR_CRYPTO;
  memcpy(key->d, d, 32);
  key->rng = rng;
  key->rng_ctx = rng_ctx;
  memset(s, 0, sizeof *s);
  s->alg = IOTL_ES256;
  memcpy(s->public_key, pub, 33);
  s->public_key_len = 33;
  s->sign = es256_sign;
  s->ctx = key;
  return IOTL_OK;
}

/* Used by the secure-element signer: is X||Y a point on P-256? */
int iotl_p256_check_point(const uint8_t xy[64]);
int iotl_p256_check_point(const uint8_t xy[64]) {
  mbedtls_ecp_group grp;
  mbedtls_ecp_point q;
  uint8_t sec1[65];
  int rc;
  sec1[0] = 0x04;
  memcpy(sec1 + 1, xy, 64);
  mbedtls_ecp_group_init(&grp);
  mbedtls_ecp_point_init(&q);
  rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
  if (rc == 0) rc = mbedtls_ecp_point_read_binary(&grp, &q, sec1, sizeof sec1);
  if (rc == 0) rc = mbedtls_ecp_check_pubkey(&grp, &q);
  mbedtls_ecp_point_free(&q);
  mbedtls_ecp_group_free(&grp);
  return rc == 0 ? IOTL_OK : IOTL_ERR_ARG;
}

#else

int iotl_signer_es256(iotl_signer *s, iotl_es256_key *key, const uint8_t d[32], iotl_rng_fn rng, void *rng_ctx) {
  (void)s;
  (void)key;
  (void)d;
  (void)rng;
  (void)rng_ctx;
  return IOTL_ERR_UNSUPPORTED;
}

#endif
