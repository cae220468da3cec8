/*
 * A Linux "sensor" built on the iot-ledger device library: signs temperature readings and
 * publishes them with libmosquitto on coldroom/<name>/reading (QoS 1), one process run per
 * "boot", the counter persisted in a file between runs.
 *
 *   iotl-device --did --alg ed25519|es256 --key FILE
 *   iotl-device --alg ed25519|es256 --key FILE --counter FILE --name NAME
 *               [--host 127.0.0.1] [--port 1883] [--format jws|cose] [--count 3]
 *               [--step 1] [--temperature -22.0] [--interval-ms 0]
 *
 * The key file holds the 32-byte private key as exactly 64 hex digits, a final newline
 * allowed (Ed25519 seed or P-256 scalar, e.g. the `d` of `iot-ledger keygen`'s JWK,
 * converted; a key from `keygen --alg p256` is --alg es256 here). Each published envelope
 * is printed as "<counter> <JWS text | COSE hex>".
 *
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <mosquitto.h>

#include "iot_ledger.h"
#include "file_counter.h"

typedef struct {
  int connected;
  int refused;
  int acked;
} session;

static void on_connect(struct mosquitto *m, void *ctx, int rc) {
  session *s = (session *)ctx;
  (void)m;
  if (rc == 0) s->connected = 1;
  else s->refused = 1;
}

static void on_publish(struct mosquitto *m, void *ctx, int mid) {
  (void)m;
  (void)mid;
  ((session *)ctx)->acked++;
}

/* The OS's randomness, for mbedTLS's blinding (the ES256 signature itself is deterministic). */
static int os_random(void *ctx, unsigned char *out, size_t len) {
  FILE *f = fopen("/dev/urandom", "rb");
  size_t n;
  (void)ctx;
  if (!f) return -1;
  n = fread(out, 1, len, f);
  fclose(f);
  return n == len ? 0 : -1;
}

static uint64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* Exactly 64 hex digits, then only white space (a final newline): anything else, such as a
 * digit short or extra after a copy and paste, a "0x" or a JWK, is refused, not read as
 * another key. */
static int hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_key(const char *path, uint8_t key[32]) {
  char text[128];
  FILE *f = fopen(path, "r");
  size_t n, i;
  if (!f) return -1;
  n = fread(text, 1, sizeof text, f);
  fclose(f);
  if (n < 64 || n == sizeof text) return -1;
  for (i = 0; i < 32; i++) {
    int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    key[i] = (uint8_t)(hi * 16 + lo);
  }
  for (i = 64; i < n; i++)
    if (!isspace((unsigned char)text[i])) return -1;
  return 0;
}

static const char *arg(int argc, char **argv, const char *name, const char *fallback) {
  int i;
  for (i = 1; i < argc - 1; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

static int flag(int argc, char **argv, const char *name) {
  int i;
  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

/* A whole decimal number within [min, max]; anything else (empty, "abc", "5x") is refused. */
static int integer(const char *text, long min, long max, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int die(const char *what, int rc) {
  fprintf(stderr, "iotl-device: %s: %s\n", what, rc < 0 ? iotl_strerror(rc) : mosquitto_strerror(rc));
  return 1;
}

int main(int argc, char **argv) {
  /* Static: no allocation by the library, and nothing large on the stack. */
  static iotl_ed25519_key ed_key;
  static iotl_es256_key es_key;
  static iotl_signer signer;
  static iotl_device device;
  static uint8_t fields[256];
  static uint8_t out[1024];
  const char *alg = arg(argc, argv, "--alg", "ed25519");
  const char *format = arg(argc, argv, "--format", "jws");
  const char *name = arg(argc, argv, "--name", "sensor");
  int cose = strcmp(format, "cose") == 0;
  const char *temperature = arg(argc, argv, "--temperature", "-22.0");
  long count, interval, step, port, base;
  double celsius;
  char *end;
  file_counter fc;
  iotl_counter_store store;
  uint8_t secret[32];
  struct mosquitto *m;
  session s = {0, 0, 0};
  char topic[128];
  int rc, i;

  if (strcmp(alg, "ed25519") != 0 && strcmp(alg, "es256") != 0) return die("--alg: ed25519 or es256 expected", IOTL_ERR_ARG);
  if (integer(arg(argc, argv, "--count", "3"), 0, 1000000, &count)) return die("--count: 0 to 1000000 expected", IOTL_ERR_ARG);
  if (integer(arg(argc, argv, "--interval-ms", "0"), 0, 86400000, &interval))
    return die("--interval-ms: 0 to 86400000 expected", IOTL_ERR_ARG);
  if (integer(arg(argc, argv, "--step", "1"), 1, 1000000, &step)) return die("--step: 1 to 1000000 expected", IOTL_ERR_ARG);
  if (integer(arg(argc, argv, "--port", "1883"), 1, 65535, &port)) return die("--port: 1 to 65535 expected", IOTL_ERR_ARG);
  /* One topic level that the cold-room flow's coldroom/+/reading matches, whole. */
  if (!*name || strpbrk(name, "/+#") || snprintf(topic, sizeof topic, "coldroom/%s/reading", name) >= (int)sizeof topic)
    return die("--name: 1 to 110 bytes without / + # expected", IOTL_ERR_ARG);
  errno = 0;
  celsius = strtod(temperature, &end);
  if (errno || end == temperature || *end || !(celsius > -1e6 && celsius < 1e6))
    return die("--temperature: a number of degrees expected (-22.0)", IOTL_ERR_ARG);
  base = lround(celsius * 10.0);
  if (strcmp(format, "jws") != 0 && !cose) return die("--format: jws or cose expected", IOTL_ERR_ARG);
  if (read_key(arg(argc, argv, "--key", ""), secret) != 0) {
    memset(secret, 0, sizeof secret);
    return die("--key: a file holding 64 hex digits expected", IOTL_ERR_ARG);
  }
  rc = strcmp(alg, "es256") == 0 ? iotl_signer_es256(&signer, &es_key, secret, os_random, NULL)
                                 : iotl_signer_ed25519(&signer, &ed_key, secret);
  memset(secret, 0, sizeof secret);
  if (rc) return die("key", rc);
  if (flag(argc, argv, "--did")) {
    char did[IOTL_DID_MAX];
    if ((rc = iotl_did_key(&signer, did, sizeof did))) return die("did", rc);
    printf("%s\n", did);
    return 0;
  }
  fc.path = arg(argc, argv, "--counter", "counter.txt");
  store = file_counter_store(&fc);
  rc = iotl_device_init(&device, &signer, &store, (uint32_t)step);
  if (rc) return die("counter", rc);

  mosquitto_lib_init();
  m = mosquitto_new(NULL, true, &s);
  if (!m) return die("mosquitto_new", MOSQ_ERR_NOMEM);
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_publish_callback_set(m, on_publish);
  rc = mosquitto_connect(m, arg(argc, argv, "--host", "127.0.0.1"), (int)port, 30);
  if (rc) return die("connect", rc);
  while (!s.connected && !s.refused)
    if ((rc = mosquitto_loop(m, 1000, 1))) return die("connect", rc);
  if (s.refused) return die("connect", MOSQ_ERR_CONN_REFUSED);

  for (i = 0; i < count; i++) {
    iotl_reading r;
    size_t len = 0;
    uint64_t counter = 0;
    iotl_reading_init(&r, cose ? IOTL_CBOR : IOTL_JSON, fields, sizeof fields);
    /* tenths of a degree: -22.0, -22.1, ... */
    if ((rc = iotl_reading_decimal(&r, "temperature", base - i, 1))) return die("reading", rc);
    rc = cose ? iotl_device_sign_cose(&device, &r, now_ms(), out, sizeof out, &len, &counter)
              : iotl_device_sign_jws(&device, &r, now_ms(), (char *)out, sizeof out, &len, &counter);
    if (rc) return die("sign", rc);
    rc = mosquitto_publish(m, NULL, topic, (int)len, out, 1, false);
    if (rc) return die("publish", rc);
    printf("%llu ", (unsigned long long)counter);
    if (cose) {
      size_t j;
      for (j = 0; j < len; j++) printf("%02x", out[j]);
    } else {
      fputs((const char *)out, stdout);
    }
    putchar('\n');
    fflush(stdout);
    while (s.acked <= i)
      if ((rc = mosquitto_loop(m, 1000, 1))) return die("publish", rc);
    if (interval > 0) {
      struct timespec t;
      t.tv_sec = (time_t)(interval / 1000);
      t.tv_nsec = (interval % 1000) * 1000000L;
      nanosleep(&t, NULL);
    }
  }
  mosquitto_disconnect(m);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}
