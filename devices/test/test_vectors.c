/*
 * Tests of the library against published vectors and its own rules.
 * Usage: test_vectors SCRATCH_DIR   (counter files are written there)
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test_support.h"

#include <math.h>

#include <mbedtls/ecdsa.h>

static const char *scratch = ".";

/* ------------------------------------------------------------------ RFC 8032 / RFC 8037 */

static void rfc8032(void) {
  static const char *V[][4] = {
      /* TEST 1, 2, 3 of RFC 8032 section 7.1: secret, public, message, signature */
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe2465"
       "5141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
       "b00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28d"
       "c027beceea1ec40a"},
  };
  size_t i;
  for (i = 0; i < sizeof V / sizeof V[0]; i++) {
    uint8_t seed[32], pub[32], msg[8], want[64], sig[64];
    int mlen;
    iotl_ed25519_key key;
    iotl_signer s;
    hex_to_bytes(V[i][0], seed, 32);
    hex_to_bytes(V[i][1], pub, 32);
    mlen = hex_to_bytes(V[i][2], msg, sizeof msg);
    hex_to_bytes(V[i][3], want, 64);
    CHECK_RC(iotl_signer_ed25519(&s, &key, seed), IOTL_OK);
    CHECK(s.alg == IOTL_ED25519 && s.public_key_len == 32 && memcmp(s.public_key, pub, 32) == 0);
    CHECK(s.sign(s.ctx, msg, (size_t)mlen, sig) == 0);
    CHECK(memcmp(sig, want, 64) == 0);
  }
}

static void rfc8037_a4(void) {
  static const char *WANT =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  static const char *MSG = "Example of Ed25519 signing";
  uint8_t seed[32];
  iotl_ed25519_key key;
  iotl_signer s;
  char out[256];
  size_t len = 0;
  hex_to_bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
  CHECK_RC(iotl_signer_ed25519(&s, &key, seed), IOTL_OK);
  CHECK_RC(iotl_jws(&s, NULL, (const uint8_t *)MSG, strlen(MSG), out, sizeof out, &len), IOTL_OK);
  CHECK(len == strlen(WANT) && strcmp(out, WANT) == 0);
  /* One byte short of the text and its NUL: refused, not truncated. */
  CHECK_RC(iotl_jws(&s, NULL, (const uint8_t *)MSG, strlen(MSG), out, strlen(WANT), &len), IOTL_ERR_SPACE);
}

/* ------------------------------------------------------------------ RFC 6979 A.2.5 (ES256) */

static const char *P256_D = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
static const char *P256_X = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
static const char *P256_Y = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";

static void rfc6979(void) {
  static const char *V[][2] = {
      {"sample", "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
                 "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"},
      {"test", "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
               "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"},
  };
  uint8_t d[32], x[32], want[64], sig[64];
  iotl_es256_key key;
  iotl_signer s;
  size_t i;
  hex_to_bytes(P256_D, d, 32);
  hex_to_bytes(P256_X, x, 32);
  CHECK_RC(iotl_signer_es256(&s, &key, d, test_rng, NULL), IOTL_OK);
  /* Y ends in 0x99 (odd): compressed form 03 || X */
  CHECK(s.alg == IOTL_ES256 && s.public_key_len == 33 && s.public_key[0] == 0x03 && memcmp(s.public_key + 1, x, 32) == 0);
  for (i = 0; i < 2; i++) {
    hex_to_bytes(V[i][1], want, 64);
    CHECK(s.sign(s.ctx, (const uint8_t *)V[i][0], strlen(V[i][0]), sig) == 0);
    CHECK(memcmp(sig, want, 64) == 0);
  }
  memset(d, 0, 32);
  CHECK_RC(iotl_signer_es256(&s, &key, d, test_rng, NULL), IOTL_ERR_ARG); /* zero is not a key */
  memset(d, 0xff, 32);
  CHECK_RC(iotl_signer_es256(&s, &key, d, test_rng, NULL), IOTL_ERR_ARG); /* above the group order */
  CHECK_RC(iotl_signer_es256(&s, &key, d, NULL, NULL), IOTL_ERR_ARG);
}

/* A stand-in secure element: signs digests with the RFC 6979 key through mbedTLS. */
static int soft_se_sign(void *ctx, const uint8_t digest[32], uint8_t rs[64]) {
  mbedtls_ecp_group grp;
  mbedtls_mpi d, r, s;
  int rc;
  mbedtls_ecp_group_init(&grp);
  mbedtls_mpi_init(&d);
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
  if (!rc) rc = mbedtls_mpi_read_binary(&d, (const uint8_t *)ctx, 32);
  if (!rc) rc = mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &d, digest, 32, MBEDTLS_MD_SHA256, test_rng, NULL);
  if (!rc) rc = mbedtls_mpi_write_binary(&r, rs, 32);
  if (!rc) rc = mbedtls_mpi_write_binary(&s, rs + 32, 32);
  mbedtls_mpi_free(&s);
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&d);
  mbedtls_ecp_group_free(&grp);
  return rc;
}

static int failing_se_sign(void *ctx, const uint8_t digest[32], uint8_t rs[64]) {
  (void)ctx;
  (void)digest;
  (void)rs;
  return 7;
}

static void secure_element(void) {
  uint8_t d[32], xy[64];
  iotl_es256_key key;
  iotl_se_key se;
  iotl_signer soft, hw;
  char a[512], b[512], did_a[IOTL_DID_MAX], did_b[IOTL_DID_MAX];
  size_t la = 0, lb = 0;
  static const char *P = "{\"t\":1}";
  hex_to_bytes(P256_D, d, 32);
  hex_to_bytes(P256_X, xy, 32);
  hex_to_bytes(P256_Y, xy + 32, 32);
  CHECK_RC(iotl_signer_es256(&soft, &key, d, test_rng, NULL), IOTL_OK);
  CHECK_RC(iotl_signer_se(&hw, &se, xy, soft_se_sign, d), IOTL_OK);
  CHECK(hw.public_key_len == 33 && memcmp(hw.public_key, soft.public_key, 33) == 0);
  CHECK_RC(iotl_did_key(&soft, did_a, sizeof did_a), IOTL_OK);
  CHECK_RC(iotl_did_key(&hw, did_b, sizeof did_b), IOTL_OK);
  CHECK(strcmp(did_a, did_b) == 0);
  /* Deterministic ECDSA on both sides: the same envelope. */
  CHECK_RC(iotl_jws(&soft, did_a, (const uint8_t *)P, strlen(P), a, sizeof a, &la), IOTL_OK);
  CHECK_RC(iotl_jws(&hw, did_b, (const uint8_t *)P, strlen(P), b, sizeof b, &lb), IOTL_OK);
  CHECK(la == lb && strcmp(a, b) == 0);
  CHECK_RC(iotl_signer_se(&hw, &se, xy, failing_se_sign, NULL), IOTL_OK);
  CHECK_RC(iotl_jws(&hw, did_b, (const uint8_t *)P, strlen(P), b, sizeof b, &lb), IOTL_ERR_CRYPTO);
  xy[63] ^= 1; /* no longer on the curve */
  CHECK_RC(iotl_signer_se(&hw, &se, xy, soft_se_sign, d), IOTL_ERR_ARG);
}

/* ------------------------------------------------------------------ did:key (W3C vectors) */

static void did_key(void) {
  uint8_t seed[32] = {0}, d[32];
  iotl_ed25519_key ek;
  iotl_es256_key pk;
  iotl_signer s;
  char did[IOTL_DID_MAX];
  CHECK_RC(iotl_signer_ed25519(&s, &ek, seed), IOTL_OK);
  CHECK_RC(iotl_did_key(&s, did, sizeof did), IOTL_OK);
  CHECK(strcmp(did, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp") == 0);
  CHECK_RC(iotl_did_key(&s, did, strlen("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")), IOTL_ERR_SPACE);
  hex_to_bytes("80f87e56f552f0c6ef290f4b4955667e7c672a31e7e13aa3d1b99ba5e8519697", d, 32);
  CHECK_RC(iotl_signer_es256(&s, &pk, d, test_rng, NULL), IOTL_OK);
  CHECK_RC(iotl_did_key(&s, did, sizeof did), IOTL_OK);
  CHECK(strcmp(did, "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv") == 0);
}

/* ------------------------------------------------------------------ readings */

static int payload_is(const iotl_reading *r, uint64_t counter, uint64_t ts, const char *want, size_t want_len) {
  uint8_t out[512];
  size_t len = 0;
  if (iotl_reading_payload(r, counter, ts, out, sizeof out, &len) != IOTL_OK) return 0;
  if (len != want_len || memcmp(out, want, len) != 0) {
    fprintf(stderr, "payload: %.*s\n", (int)len, (const char *)out);
    return 0;
  }
  return 1;
}

static void fill(iotl_reading *r, int order) {
  /* The same fields in two orders. */
  if (order) {
    CHECK_RC(iotl_reading_string(r, "\xf0\x9f\x98\x80", "smile"), IOTL_OK); /* U+1F600 */
    CHECK_RC(iotl_reading_null(r, "\xee\x80\x80"), IOTL_OK);                /* U+E000 */
    CHECK_RC(iotl_reading_decimal(r, "temperature", -2140, 2), IOTL_OK);
    CHECK_RC(iotl_reading_bool(r, "door", 0), IOTL_OK);
    CHECK_RC(iotl_reading_int(r, "humidity", 55), IOTL_OK);
    CHECK_RC(iotl_reading_string(r, "\xe2\x82\xac", "a\"b\\\n\x01"), IOTL_OK); /* U+20AC */
  } else {
    CHECK_RC(iotl_reading_string(r, "\xe2\x82\xac", "a\"b\\\n\x01"), IOTL_OK);
    CHECK_RC(iotl_reading_int(r, "humidity", 55), IOTL_OK);
    CHECK_RC(iotl_reading_bool(r, "door", 0), IOTL_OK);
    CHECK_RC(iotl_reading_decimal(r, "temperature", -2140, 2), IOTL_OK);
    CHECK_RC(iotl_reading_null(r, "\xee\x80\x80"), IOTL_OK);
    CHECK_RC(iotl_reading_string(r, "\xf0\x9f\x98\x80", "smile"), IOTL_OK);
  }
}

static void canonical_order(void) {
  /* RFC 8785 sorts by UTF-16 code units: U+20AC < U+1F600 (D83D DE00) < U+E000. */
  static const char JSON[] =
      "{\"counter\":7,\"door\":false,\"humidity\":55,\"temperature\":-21.4,\"ts\":1764066000000,"
      "\"\xe2\x82\xac\":\"a\\\"b\\\\\\n\\u0001\",\"\xf0\x9f\x98\x80\":\"smile\",\"\xee\x80\x80\":null}";
  /* RFC 8949: shorter encoded keys first, then bytewise. */
  static const uint8_t CBOR[] = {
      0xa8, 0x62, 0x74, 0x73, 0x1b, 0x00, 0x00, 0x01, 0x9a, 0xba, 0x86, 0xfc, 0x80, 0x63, 0xe2, 0x82, 0xac, 0x66, 0x61,
      0x22, 0x62, 0x5c, 0x0a, 0x01, 0x63, 0xee, 0x80, 0x80, 0xf6, 0x64, 0x64, 0x6f, 0x6f, 0x72, 0xf4, 0x64, 0xf0, 0x9f,
      0x98, 0x80, 0x65, 0x73, 0x6d, 0x69, 0x6c, 0x65, 0x67, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x65, 0x72, 0x07, 0x68, 0x68,
      0x75, 0x6d, 0x69, 0x64, 0x69, 0x74, 0x79, 0x18, 0x37, 0x6b, 0x74, 0x65, 0x6d, 0x70, 0x65, 0x72, 0x61, 0x74, 0x75,
      0x72, 0x65, 0xfb, 0xc0, 0x35, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
  uint8_t buf[2][400];
  iotl_reading r[2];
  int order;
  for (order = 0; order < 2; order++) {
    CHECK_RC(iotl_reading_init(&r[order], IOTL_JSON, buf[order], sizeof buf[order]), IOTL_OK);
    fill(&r[order], order);
    CHECK(payload_is(&r[order], 7, 1764066000000ULL, JSON, sizeof JSON - 1));
  }
  for (order = 0; order < 2; order++) {
    CHECK_RC(iotl_reading_init(&r[order], IOTL_CBOR, buf[order], sizeof buf[order]), IOTL_OK);
    fill(&r[order], order);
    CHECK(payload_is(&r[order], 7, 1764066000000ULL, (const char *)CBOR, sizeof CBOR));
  }
  /* Without a clock: the counter alone. */
  CHECK_RC(iotl_reading_init(&r[0], IOTL_JSON, buf[0], sizeof buf[0]), IOTL_OK);
  CHECK_RC(iotl_reading_int(&r[0], "x", -1), IOTL_OK);
  CHECK(payload_is(&r[0], 1, IOTL_NO_TS, "{\"counter\":1,\"x\":-1}", 20));
}

static int json_double_is(double v, const char *want) {
  uint8_t buf[128];
  iotl_reading r;
  char expect[160];
  int n = snprintf(expect, sizeof expect, "{\"counter\":1,\"v\":%s}", want);
  iotl_reading_init(&r, IOTL_JSON, buf, sizeof buf);
  if (iotl_reading_double(&r, "v", v) != IOTL_OK) return 0;
  return payload_is(&r, 1, IOTL_NO_TS, expect, (size_t)n);
}

static int cbor_double_is(double v, const uint8_t *want, size_t n) {
  uint8_t buf[128], expect[32];
  iotl_reading r;
  static const uint8_t HEAD[] = {0xa2, 0x61, 'v'};
  static const uint8_t TAIL[] = {0x67, 'c', 'o', 'u', 'n', 't', 'e', 'r', 0x01};
  memcpy(expect, HEAD, 3);
  memcpy(expect + 3, want, n);
  memcpy(expect + 3 + n, TAIL, sizeof TAIL);
  iotl_reading_init(&r, IOTL_CBOR, buf, sizeof buf);
  if (iotl_reading_double(&r, "v", v) != IOTL_OK) return 0;
  return payload_is(&r, 1, IOTL_NO_TS, (const char *)expect, 3 + n + sizeof TAIL);
}

static void numbers(void) {
  /* What JavaScript's String(v) gives for each. */
  CHECK(json_double_is(0.1, "0.1"));
  CHECK(json_double_is(-21.4, "-21.4"));
  CHECK(json_double_is(1.0 / 3.0, "0.3333333333333333"));
  CHECK(json_double_is(100, "100"));
  CHECK(json_double_is(-0.0, "0"));
  CHECK(json_double_is(1e21, "1e+21"));
  CHECK(json_double_is(123456789012345680000.0, "123456789012345680000"));
  CHECK(json_double_is(0.000001, "0.000001"));
  CHECK(json_double_is(1e-7, "1e-7"));
  CHECK(json_double_is(1.5e-10, "1.5e-10"));
  CHECK(json_double_is(5e-324, "5e-324"));
  CHECK(json_double_is(1.7976931348623157e308, "1.7976931348623157e+308"));
  {
    static const uint8_t F16[] = {0xf9, 0x3e, 0x00};
    static const uint8_t F32[] = {0xfa, 0x7f, 0x7f, 0xff, 0xff};
    static const uint8_t F64[] = {0xfb, 0xc0, 0x35, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
    static const uint8_t INT[] = {0x3a, 0x00, 0x01, 0x86, 0x9f}; /* -100000 */
    static const uint8_t NEG0[] = {0xf9, 0x80, 0x00};
    static const uint8_t SUB16[] = {0xf9, 0x00, 0x01}; /* 2^-24, a half-precision subnormal */
    CHECK(cbor_double_is(1.5, F16, sizeof F16));
    CHECK(cbor_double_is(3.4028234663852886e38, F32, sizeof F32));
    CHECK(cbor_double_is(-21.4, F64, sizeof F64));
    CHECK(cbor_double_is(-100000.0, INT, sizeof INT));
    CHECK(cbor_double_is(-0.0, NEG0, sizeof NEG0));
    CHECK(cbor_double_is(ldexp(1, -24), SUB16, sizeof SUB16));
  }
}

static void refusals(void) {
  uint8_t buf[64], small[8];
  iotl_reading r;
  int i;
  char name[16];
  CHECK_RC(iotl_reading_init(&r, IOTL_JSON, buf, sizeof buf), IOTL_OK);
  CHECK_RC(iotl_reading_int(&r, "counter", 1), IOTL_ERR_NAME);
  CHECK_RC(iotl_reading_int(&r, "ts", 1), IOTL_ERR_NAME);
  CHECK_RC(iotl_reading_int(&r, "", 1), IOTL_ERR_NAME);
  CHECK_RC(iotl_reading_int(&r, "\xc0\xaf", 1), IOTL_ERR_NAME);          /* overlong '/' */
  CHECK_RC(iotl_reading_int(&r, "\xed\xa0\x80", 1), IOTL_ERR_NAME);      /* a surrogate */
  CHECK_RC(iotl_reading_int(&r, NULL, 1), IOTL_ERR_ARG);
  CHECK_RC(iotl_reading_int(&r, "a", IOTL_MAX_SAFE_INTEGER + 1), IOTL_ERR_VALUE);
  CHECK_RC(iotl_reading_decimal(&r, "a", 1, 7), IOTL_ERR_VALUE);
  CHECK_RC(iotl_reading_decimal(&r, "a", 1000000000000000LL, 1), IOTL_ERR_VALUE);
  CHECK_RC(iotl_reading_double(&r, "a", NAN), IOTL_ERR_VALUE);
  CHECK_RC(iotl_reading_double(&r, "a", INFINITY), IOTL_ERR_VALUE);
  CHECK_RC(iotl_reading_string(&r, "a", "\xff"), IOTL_ERR_VALUE);
  CHECK(r.n == 0 && r.len == 0);
  CHECK_RC(iotl_reading_int(&r, "a", 1), IOTL_OK);
  CHECK_RC(iotl_reading_int(&r, "a", 2), IOTL_ERR_NAME);
  CHECK_RC(iotl_reading_string(&r, "b", "0123456789012345678901234567890123456789012345678901234567"), IOTL_ERR_SPACE);
  CHECK(r.n == 1 && r.len == 7); /* a NUL "a":1 */
  CHECK(payload_is(&r, 9, IOTL_NO_TS, "{\"a\":1,\"counter\":9}", 19));
  {
    size_t len;
    CHECK_RC(iotl_reading_payload(&r, 9, IOTL_NO_TS, small, sizeof small, &len), IOTL_ERR_SPACE);
    CHECK_RC(iotl_reading_payload(&r, 0, IOTL_NO_TS, small, sizeof small, &len), IOTL_ERR_COUNTER);
    CHECK_RC(iotl_reading_payload(&r, IOTL_MAX_SAFE_INTEGER + 1ULL, 5, small, sizeof small, &len), IOTL_ERR_COUNTER);
  }
  {
    uint8_t big[2048];
    CHECK_RC(iotl_reading_init(&r, IOTL_CBOR, big, sizeof big), IOTL_OK);
    for (i = 0; i < IOTL_MAX_FIELDS; i++) {
      snprintf(name, sizeof name, "f%d", i);
      CHECK_RC(iotl_reading_int(&r, name, i), IOTL_OK);
    }
    CHECK_RC(iotl_reading_int(&r, "one-more", 1), IOTL_ERR_TOO_MANY);
  }
}

/* ------------------------------------------------------------------ envelopes and the counter */

typedef struct {
  uint64_t value;
  int fail;
  int saves;
  int fail_load;
} mem_store;

static int mem_load(void *ctx, uint64_t *v) {
  if (((mem_store *)ctx)->fail_load) return -1;
  *v = ((mem_store *)ctx)->value;
  return 0;
}

static int mem_save(void *ctx, uint64_t v) {
  mem_store *m = (mem_store *)ctx;
  if (m->fail) return -1;
  m->value = v;
  m->saves++;
  return 0;
}

static uint64_t sign_one(iotl_device *d, int cose) {
  uint8_t buf[128], out[512];
  iotl_reading r;
  size_t len = 0;
  uint64_t c = 0;
  int rc;
  iotl_reading_init(&r, cose ? IOTL_CBOR : IOTL_JSON, buf, sizeof buf);
  iotl_reading_decimal(&r, "temperature", -215, 1);
  rc = cose ? iotl_device_sign_cose(d, &r, 1764066000000ULL, out, sizeof out, &len, &c)
            : iotl_device_sign_jws(d, &r, 1764066000000ULL, (char *)out, sizeof out, &len, &c);
  return rc == IOTL_OK ? c : 0;
}

static void counter_across_reboots(void) {
  uint8_t seed[32] = {1};
  iotl_ed25519_key key;
  iotl_signer s;
  iotl_device d;
  char path[1024];
  file_counter fc;
  iotl_counter_store store;
  mem_store mem = {0, 0, 0, 0};
  iotl_counter_store ms = {mem_load, mem_save, NULL};
  CHECK_RC(iotl_signer_ed25519(&s, &key, seed), IOTL_OK);

  snprintf(path, sizeof path, "%s/counter-test-%ld", scratch, (long)getpid());
  remove(path);
  fc.path = path;
  store = file_counter_store(&fc);
  CHECK_RC(iotl_device_init(&d, &s, &store, 1), IOTL_OK);
  CHECK(sign_one(&d, 0) == 1 && sign_one(&d, 1) == 2 && sign_one(&d, 0) == 3);
  /* Reboot: a fresh device from the same file. */
  CHECK_RC(iotl_device_init(&d, &s, &store, 1), IOTL_OK);
  CHECK(sign_one(&d, 0) == 4);
  /* Reserving 16 at a time: after a reboot the counter jumps past what was reserved. */
  CHECK_RC(iotl_device_init(&d, &s, &store, 16), IOTL_OK);
  CHECK(sign_one(&d, 0) == 5 && sign_one(&d, 0) == 6);
  CHECK_RC(iotl_device_init(&d, &s, &store, 16), IOTL_OK);
  CHECK(sign_one(&d, 1) == 21);
  remove(path);

  ms.ctx = &mem;
  CHECK_RC(iotl_device_init(&d, &s, &ms, 4), IOTL_OK);
  CHECK(sign_one(&d, 0) == 1 && mem.value == 4 && mem.saves == 1);
  CHECK(sign_one(&d, 0) == 2 && sign_one(&d, 0) == 3 && sign_one(&d, 0) == 4 && mem.saves == 1);
  mem.fail = 1; /* 5 needs a write, which fails: nothing is signed and nothing is used up */
  CHECK(sign_one(&d, 0) == 0 && d.counter == 4);
  mem.fail = 0;
  CHECK(sign_one(&d, 0) == 5 && mem.value == 8);
  mem.value = IOTL_MAX_SAFE_INTEGER;
  CHECK_RC(iotl_device_init(&d, &s, &ms, 1), IOTL_OK);
  CHECK(sign_one(&d, 0) == 0);
  mem.value = IOTL_MAX_SAFE_INTEGER + 1ULL;
  CHECK_RC(iotl_device_init(&d, &s, &ms, 1), IOTL_ERR_COUNTER);
}

/* A failed iotl_device_init changes nothing: a device it never set up signs nothing (and never
 * writes counter 1 over the stored one), one set up before goes on from its own counter. */
static void failed_init(void) {
  uint8_t seed[32] = {3};
  iotl_ed25519_key key;
  iotl_signer s;
  static iotl_device never; /* zero, as a static device is before its init */
  iotl_device d;
  mem_store mem = {41, 0, 0, 1};
  iotl_counter_store ms = {mem_load, mem_save, NULL};
  ms.ctx = &mem;
  CHECK_RC(iotl_signer_ed25519(&s, &key, seed), IOTL_OK);
  memset(&d, 0, sizeof d);
  /* The stored counter cannot be read (a flash error): init fails, and so does every sign. */
  CHECK_RC(iotl_device_init(&d, &s, &ms, 1), IOTL_ERR_STORAGE);
  CHECK(sign_one(&d, 0) == 0 && sign_one(&d, 1) == 0);
  CHECK(mem.value == 41 && mem.saves == 0);
  CHECK(strcmp(iotl_device_did(&d), "") == 0);
  mem.fail_load = 0;
  CHECK_RC(iotl_device_init(&d, &s, &ms, 1), IOTL_OK);
  CHECK(sign_one(&d, 0) == 42 && mem.value == 42);
  mem.fail_load = 1;
  CHECK_RC(iotl_device_init(&d, &s, &ms, 1), IOTL_ERR_STORAGE);
  CHECK(sign_one(&d, 0) == 43 && mem.value == 43);
  CHECK_RC(iotl_device_init(&d, &s, &ms, 0), IOTL_ERR_ARG);
  CHECK(sign_one(&d, 0) == 44);
  /* Never initialised at all (its init's result ignored): refused, not a call through NULL. */
  CHECK(sign_one(&never, 0) == 0 && sign_one(&never, 1) == 0);
}

static void device_envelopes(void) {
  uint8_t seed[32] = {2}, buf[128], payload[256], out[512], ref[512];
  iotl_ed25519_key key;
  iotl_signer s;
  iotl_device d;
  iotl_reading r;
  mem_store mem = {41, 0, 0, 0};
  iotl_counter_store ms = {mem_load, mem_save, NULL};
  size_t plen = 0, len = 0, rlen = 0;
  uint64_t c = 0;
  ms.ctx = &mem;
  CHECK_RC(iotl_signer_ed25519(&s, &key, seed), IOTL_OK);
  CHECK_RC(iotl_device_init(&d, &s, &ms, 1), IOTL_OK);
  CHECK(strncmp(iotl_device_did(&d), "did:key:z6Mk", 12) == 0);

  /* The device's JWS is iotl_jws over the reading's payload with kid = did:key. */
  iotl_reading_init(&r, IOTL_JSON, buf, sizeof buf);
  iotl_reading_decimal(&r, "temperature", -214, 1);
  CHECK_RC(iotl_reading_payload(&r, 42, 1764066000000ULL, payload, sizeof payload, &plen), IOTL_OK);
  CHECK_RC(iotl_device_sign_jws(&d, &r, 1764066000000ULL, (char *)out, sizeof out, &len, &c), IOTL_OK);
  CHECK(c == 42);
  CHECK_RC(iotl_jws(&s, d.did, payload, plen, (char *)ref, sizeof ref, &rlen), IOTL_OK);
  CHECK(len == rlen && memcmp(out, ref, len) == 0);
  CHECK_RC(iotl_device_sign_cose(&d, &r, 1764066000000ULL, out, 10, &len, &c), IOTL_ERR_SPACE);
  CHECK(d.counter == 42); /* not used up */

  /* COSE: the same payload; the message holds it and the signature over Sig_structure. */
  CHECK_RC(iotl_reading_payload(&r, 43, 1764066000000ULL, payload, sizeof payload, &plen), IOTL_OK);
  CHECK_RC(iotl_device_sign_cose(&d, &r, 1764066000000ULL, out, sizeof out, &len, &c), IOTL_OK);
  CHECK_RC(iotl_cose_sign1(&s, d.did, 0, payload, plen, ref, sizeof ref, &rlen), IOTL_OK);
  CHECK(c == 43 && len == rlen && memcmp(out, ref, len) == 0);
  {
    static const uint8_t HEAD[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa1, 0x04, 0x58, 56};
    uint8_t tbs[400];
    size_t n = 0, at;
    CHECK(memcmp(out, HEAD, sizeof HEAD) == 0 && memcmp(out + sizeof HEAD, d.did, 56) == 0);
    at = sizeof HEAD + 56;
    CHECK(out[at] == 0x58 && out[at + 1] == plen && memcmp(out + at + 2, payload, plen) == 0);
    CHECK(out[len - 66] == 0x58 && out[len - 65] == 0x40);
    memcpy(tbs, "\x84\x6aSignature1\x43\xa1\x01\x27\x40\x58", 18);
    n = 18;
    tbs[n++] = (uint8_t)plen;
    memcpy(tbs + n, payload, plen);
    n += plen;
    CHECK(crypto_sign_ed25519_verify_detached(out + len - 64, tbs, n, s.public_key) == 0);
  }
  /* Without kid, and with the fully specified algorithm id -19. */
  CHECK_RC(iotl_cose_sign1(&s, NULL, 1, payload, plen, ref, sizeof ref, &rlen), IOTL_OK);
  CHECK(rlen == 7 + 2 + plen + 66 && memcmp(ref, "\xd2\x84\x43\xa1\x01\x32\xa0\x58", 8) == 0);
  CHECK_RC(iotl_cose_sign1(&s, NULL, 1, payload, plen, ref, rlen - 1 + 10, &rlen), IOTL_ERR_SPACE);
  CHECK_RC(iotl_device_sign_jws(&d, &r, IOTL_MAX_SAFE_INTEGER + 1ULL, (char *)out, sizeof out, &len, &c), IOTL_ERR_ARG);
  iotl_reading_init(&r, IOTL_CBOR, buf, sizeof buf);
  CHECK_RC(iotl_device_sign_jws(&d, &r, 1, (char *)out, sizeof out, &len, &c), IOTL_ERR_ARG); /* JWS needs JSON */
}

int main(int argc, char **argv) {
  if (argc > 1) scratch = argv[1];
  rfc8032();
  rfc8037_a4();
  rfc6979();
  secure_element();
  did_key();
  canonical_order();
  numbers();
  refusals();
  counter_across_reboots();
  device_envelopes();
  failed_init();
  if (failures) {
    fprintf(stderr, "test_vectors: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_vectors: all checks passed\n");
  return 0;
}
