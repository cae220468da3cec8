/*
 * How much stack one signed reading takes, backend included: paints a stack region,
 * signs, and finds the deepest byte that changed. An indication, printed by `make sizes`.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test_support.h"

#define REGION 65536

static int mem_load(void *ctx, uint64_t *v) {
  *v = *(uint64_t *)ctx;
  return 0;
}

static int mem_save(void *ctx, uint64_t v) {
  *(uint64_t *)ctx = v;
  return 0;
}

static iotl_ed25519_key ek;
static iotl_es256_key pk;
static iotl_signer signer;
static iotl_device device;
static uint64_t stored;
static uint8_t fields[256], out[1024];
static int which;

__attribute__((noinline)) static void paint(void) {
  volatile uint8_t region[REGION];
  size_t i;
  for (i = 0; i < REGION; i++) region[i] = 0xa5;
  (void)region[0];
}

/* Reads what paint() left: deliberately uninitialised memory. */
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((noinline)) static size_t measure(void) {
  volatile uint8_t region[REGION];
  size_t i;
  for (i = 0; i < REGION && region[i] == 0xa5; i++) continue;
  return REGION - i;
}

__attribute__((noinline)) static int sign_one(void) {
  iotl_reading r;
  size_t len;
  iotl_reading_init(&r, which == 2 ? IOTL_CBOR : IOTL_JSON, fields, sizeof fields);
  iotl_reading_decimal(&r, "temperature", -214, 1);
  iotl_reading_double(&r, "humidity", 55.25);
  iotl_reading_string(&r, "unit", "C");
  if (which == 2) return iotl_device_sign_cose(&device, &r, 1764066000000ULL, out, sizeof out, &len, NULL);
  return iotl_device_sign_jws(&device, &r, 1764066000000ULL, (char *)out, sizeof out, &len, NULL);
}

int main(void) {
  static const char *NAMES[] = {"Ed25519 JWS (libsodium)", "ES256 JWS (mbedTLS)", "ES256 COSE_Sign1, CBOR (mbedTLS)"};
  uint8_t secret[32];
  iotl_counter_store store = {mem_load, mem_save, &stored};
  (void)failures;
  hex_to_bytes("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", secret, 32);
  for (which = 0; which < 3; which++) {
    size_t used;
    int rc = which == 0 ? iotl_signer_ed25519(&signer, &ek, secret) : iotl_signer_es256(&signer, &pk, secret, test_rng, NULL);
    if (!rc) rc = iotl_device_init(&device, &signer, &store, 1);
    if (rc) return 1;
    paint();
    if (sign_one() != IOTL_OK) return 1;
    used = measure();
    printf("stack for one signed reading, %s: about %zu bytes\n", NAMES[which], used);
  }
  return 0;
}
