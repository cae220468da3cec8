/*
 * A program that signs one reading, linked statically, to weigh library + backend
 * against a baseline that only formats a number (used by `make sizes`).
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>

#ifdef SIZE_BASELINE
int main(int argc, char **argv) {
  (void)argv;
  printf("%g %s\n", strtod("1.5", NULL) * argc, "baseline");
  return 0;
}
#else
#include "iot_ledger.h"

static int rng(void *ctx, unsigned char *out, size_t len) {
  size_t i;
  (void)ctx;
  for (i = 0; i < len; i++) out[i] = (unsigned char)rand();
  return 0;
}

int main(int argc, char **argv) {
  static uint8_t secret[32] = {1}, fields[128];
  static char out[512];
  static iotl_signer s;
  iotl_reading r;
  size_t len = 0;
#if defined(IOTL_WITH_SODIUM)
  static iotl_ed25519_key k;
  int rc = iotl_signer_ed25519(&s, &k, secret);
  (void)rng;
#else
  static iotl_es256_key k;
  int rc = iotl_signer_es256(&s, &k, secret, rng, NULL);
#endif
  (void)argv;
  iotl_reading_init(&r, IOTL_JSON, fields, sizeof fields);
  iotl_reading_double(&r, "t", strtod("1.5", NULL) * argc);
  if (!rc) rc = iotl_reading_payload(&r, 1, IOTL_NO_TS, (uint8_t *)out, sizeof out, &len);
  if (!rc) rc = iotl_jws(&s, "did", (const uint8_t *)out, len, out, sizeof out, &len);
  printf("%d %s\n", rc, out);
  return 0;
}
#endif
