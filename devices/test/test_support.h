/*
 * Test helpers: hex, a check macro, keys from hex, an RNG for mbedTLS's blinding.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef IOTL_TEST_SUPPORT_H
#define IOTL_TEST_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "iot_ledger.h"
#include "../examples/linux/file_counter.h"

static int failures = 0;

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
      failures++;                                                                 \
    }                                                                             \
  } while (0)

#define CHECK_RC(expr, want)                                                                   \
  do {                                                                                         \
    int rc_ = (expr);                                                                          \
    if (rc_ != (want)) {                                                                       \
      fprintf(stderr, "%s:%d: %s returned %d (%s), wanted %d\n", __FILE__, __LINE__, #expr, rc_, \
              iotl_strerror(rc_), (want));                                                     \
      failures++;                                                                              \
    }                                                                                          \
  } while (0)

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex), i;
  if (n % 2 || n / 2 > cap) return -1;
  for (i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return (int)(n / 2);
}

/* Blinding randomness for mbedTLS (the signatures themselves are deterministic). */
static int test_rng(void *ctx, unsigned char *out, size_t len) {
  (void)ctx;
  randombytes_buf(out, len);
  return 0;
}

#endif
