/*
 * iot-ledger device signing library
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Builds a sensor reading's signed envelope exactly as the iot-ledger Verify node
 * expects it: JWS compact (EdDSA, ES256 raw r||s) or COSE_Sign1, kid = the device's
 * did:key, payload {fields..., counter, ts} as canonical JSON (RFC 8785) or
 * deterministic CBOR (RFC 8949 section 4.2.1). C99, no dynamic allocation: every
 * buffer is the caller's.
 *
 * Crypto comes from a backend chosen at compile time:
 *   IOTL_WITH_SODIUM=1   Ed25519 through libsodium
 *   IOTL_WITH_MBEDTLS=1  ES256 (ECDSA P-256, RFC 6979 deterministic) through mbedTLS
 * and a secure element (ATECC608-style, P-256) can sign through iotl_signer_se().
 */
#ifndef IOT_LEDGER_H
#define IOT_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(IOTL_WITH_SODIUM) && !defined(IOTL_WITH_MBEDTLS) && (defined(ESP_PLATFORM) || defined(ARDUINO_ARCH_ESP32))
/* ESP-IDF and Arduino-ESP32 always ship mbedTLS. */
#define IOTL_WITH_MBEDTLS 1
#endif

#define IOTL_VERSION "0.1.0"

/* Status codes: 0 is success, every failure is negative. */
typedef enum {
  IOTL_OK = 0,
  IOTL_ERR_ARG = -1,         /* NULL pointer or an argument out of range */
  IOTL_ERR_SPACE = -2,       /* a caller-supplied buffer is too small */
  IOTL_ERR_NAME = -3,        /* field name empty, not UTF-8, reserved ("counter", "ts") or repeated */
  IOTL_ERR_VALUE = -4,       /* value not representable (NaN, infinity, unsafe integer, bad UTF-8) */
  IOTL_ERR_TOO_MANY = -5,    /* more than IOTL_MAX_FIELDS fields */
  IOTL_ERR_CRYPTO = -6,      /* the backend or the secure element failed */
  IOTL_ERR_STORAGE = -7,     /* the counter could not be loaded or persisted */
  IOTL_ERR_COUNTER = -8,     /* the counter is exhausted (2^53 - 1, the largest the gateway reads exactly) */
  IOTL_ERR_UNSUPPORTED = -9  /* algorithm or backend not compiled in */
} iotl_status;

/* Field names per reading, besides counter and ts. Keeps a CBOR map head one byte. */
#define IOTL_MAX_FIELDS 21
/* Longest did:key: "did:key:z" + base58 of 2 + 33 bytes (P-256), plus NUL. */
#define IOTL_DID_MAX 64
/* Largest integer the gateway reads exactly (JavaScript's Number.MAX_SAFE_INTEGER). */
#define IOTL_MAX_SAFE_INTEGER 9007199254740991LL
/* Pass as ts to leave the timestamp out (a device without a clock sends the counter only). */
#define IOTL_NO_TS UINT64_MAX

typedef enum { IOTL_ED25519 = 1, IOTL_ES256 = 2 } iotl_alg;
typedef enum { IOTL_JSON = 0, IOTL_CBOR = 1 } iotl_encoding;

const char *iotl_strerror(int status);

/* ------------------------------------------------------------------ signers */

/* Signs msg; writes a 64-byte signature (Ed25519, or ES256 as raw r||s). Returns 0 on success. */
typedef int (*iotl_sign_fn)(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t sig[64]);

typedef struct {
  iotl_alg alg;
  uint8_t public_key[33]; /* Ed25519: 32 bytes; P-256: SEC1 compressed, 33 bytes */
  size_t public_key_len;
  iotl_sign_fn sign;
  void *ctx;
} iotl_signer;

/* Key material for the software backends. Keep it in a static or a long-lived variable. */
typedef struct {
  uint8_t secret[64];
} iotl_ed25519_key;

typedef int (*iotl_rng_fn)(void *ctx, unsigned char *out, size_t len); /* mbedTLS's f_rng shape */

typedef struct {
  uint8_t d[32];
  iotl_rng_fn rng; /* for mbedTLS's blinding; the signature itself is RFC 6979 deterministic */
  void *rng_ctx;
} iotl_es256_key;

/* Ed25519 from a 32-byte seed (libsodium). IOTL_ERR_UNSUPPORTED without IOTL_WITH_SODIUM. */
int iotl_signer_ed25519(iotl_signer *s, iotl_ed25519_key *key, const uint8_t seed[32]);

/* ES256 from a 32-byte private scalar (mbedTLS); rng (not NULL) feeds mbedTLS's blinding. IOTL_ERR_ARG for a
 * scalar that is 0 or not below the group order. */
int iotl_signer_es256(iotl_signer *s, iotl_es256_key *key, const uint8_t d[32], iotl_rng_fn rng, void *rng_ctx);

/*
 * A secure element that signs a SHA-256 digest with P-256 and returns raw r||s (e.g. the
 * ATECC608's atcab_sign(slot, digest, rs)). public_xy is the 64-byte X||Y it reports
 * (atcab_get_pubkey). The library hashes with the compiled-in backend's SHA-256.
 */
typedef int (*iotl_se_sign_fn)(void *ctx, const uint8_t digest[32], uint8_t rs[64]);

typedef struct {
  iotl_se_sign_fn sign_digest;
  void *ctx;
} iotl_se_key;

int iotl_signer_se(iotl_signer *s, iotl_se_key *key, const uint8_t public_xy[64], iotl_se_sign_fn sign_digest, void *ctx);

/* The signer's did:key ("did:key:z6Mk..." or "did:key:zDn..."), NUL-terminated. */
int iotl_did_key(const iotl_signer *s, char *out, size_t cap);

/* SHA-256 through the compiled-in backend. */
int iotl_sha256(const uint8_t *msg, size_t len, uint8_t out[32]);

/* ------------------------------------------------------------------ envelopes of given bytes */

/*
 * JWS compact over payload: header {"alg":"EdDSA"|"ES256"[,"kid":kid]}. kid may be NULL.
 * Writes NUL-terminated text; *out_len excludes the NUL.
 */
int iotl_jws(const iotl_signer *s, const char *kid, const uint8_t *payload, size_t payload_len, char *out, size_t cap,
             size_t *out_len);

/*
 * COSE_Sign1 (tag 18): protected {1: alg}, unprotected {4: kid as bytes}. alg is -8 (EdDSA) or
 * -7 (ES256), or with fully_specified -19 (Ed25519) / -9 (ESP256). kid may be NULL.
 */
int iotl_cose_sign1(const iotl_signer *s, const char *kid, int fully_specified, const uint8_t *payload, size_t payload_len,
                    uint8_t *out, size_t cap, size_t *out_len);

/* ------------------------------------------------------------------ readings */

/*
 * A reading's fields, kept encoded in the caller's buffer and sorted as they are added.
 * Each add either succeeds or leaves the reading as it was.
 */
typedef struct {
  iotl_encoding encoding;
  uint8_t *buf;
  size_t cap;
  size_t len;
  size_t n;
  size_t start[IOTL_MAX_FIELDS + 1]; /* entry i is buf[start[i] .. start[i + 1]) */
} iotl_reading;

int iotl_reading_init(iotl_reading *r, iotl_encoding encoding, uint8_t *buf, size_t cap);
/* Integers within +-(2^53 - 1): what the gateway reads exactly. */
int iotl_reading_int(iotl_reading *r, const char *name, int64_t value);
/* mantissa * 10^-decimals, e.g. (-214, 1) is -21.4. |mantissa| < 10^15, decimals <= 6. */
int iotl_reading_decimal(iotl_reading *r, const char *name, int64_t mantissa, unsigned decimals);
/* Any finite double; written as JavaScript writes it, so the gateway reads the same value. */
int iotl_reading_double(iotl_reading *r, const char *name, double value);
int iotl_reading_bool(iotl_reading *r, const char *name, int value);
int iotl_reading_null(iotl_reading *r, const char *name);
/* NUL-terminated UTF-8 text. */
int iotl_reading_string(iotl_reading *r, const char *name, const char *value);
/* UTF-8 text of the given length (may contain NUL characters). */
int iotl_reading_string_n(iotl_reading *r, const char *name, const char *value, size_t len);

/* The payload {fields..., counter[, ts]} in the reading's encoding (what gets signed). */
int iotl_reading_payload(const iotl_reading *r, uint64_t counter, uint64_t ts, uint8_t *out, size_t cap,
                         size_t *out_len);

/* ------------------------------------------------------------------ the device */

/*
 * Persists the counter: load gives the last value saved (0 and IOTL_OK when nothing was ever
 * saved); save must have written value durably when it returns 0 (NVS commit, EEPROM commit,
 * fsync). Any non-zero return is a failure.
 */
typedef struct {
  int (*load)(void *ctx, uint64_t *value);
  int (*save)(void *ctx, uint64_t value);
  void *ctx;
} iotl_counter_store;

typedef struct {
  iotl_signer signer;
  iotl_counter_store store;
  uint64_t counter;  /* last counter used */
  uint64_t reserved; /* highest counter persisted: every counter used is at most this */
  uint32_t step;     /* counters reserved per write to storage */
  char did[IOTL_DID_MAX];
} iotl_device;

/*
 * Loads the counter and computes the did:key. step >= 1 counters are reserved per storage
 * write: 1 writes on every reading; 16 writes once per 16 readings and, after a reboot, skips
 * at most 15 (a gap the gateway accepts). Both copy what they need. A failed init leaves d as
 * it was (IOTL_ERR_STORAGE when load fails); the sign functions refuse a device never
 * initialised with IOTL_ERR_ARG.
 */
int iotl_device_init(iotl_device *d, const iotl_signer *signer, const iotl_counter_store *store, uint32_t step);

const char *iotl_device_did(const iotl_device *d);

/*
 * Signs the next reading: takes the next counter (persisting first when needed), stamps
 * counter and ts (milliseconds since the epoch, or IOTL_NO_TS) and signs.
 *   JWS: the reading must be IOTL_JSON; out gets NUL-terminated text.
 *   COSE_Sign1: JSON or CBOR payload; out gets bytes.
 * On success *counter_out (may be NULL) is the counter used.
 */
int iotl_device_sign_jws(iotl_device *d, const iotl_reading *r, uint64_t ts, char *out, size_t cap, size_t *out_len,
                         uint64_t *counter_out);
int iotl_device_sign_cose(iotl_device *d, const iotl_reading *r, uint64_t ts, uint8_t *out, size_t cap,
                          size_t *out_len, uint64_t *counter_out);

#ifdef __cplusplus
}
#endif

#endif
