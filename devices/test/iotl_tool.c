/*
 * A command-line front to the library for the project's tests.
 *   iotl_tool did ALG KEYHEX
 *   iotl_tool jws|cose ALG KEYHEX PAYLOADHEX [KID]        (kid "-": the key's did:key)
 *   iotl_tool sign ALG KEYHEX jws|cose-json|cose-cbor COUNTERFILE STEP TS [NAME=KIND:VALUE]...
 *       KIND: i (integer), m (decimal "mantissa/decimals"), d (double), b (0/1), n, s (text)
 *   iotl_tool fuzz SEED COUNT        random readings, one line each, for the TypeScript checker
 *   iotl_tool fuzz-check SEED COUNT  the same, checked here (signature verified by the backend)
 * ALG: ed25519 or es256. Envelopes print as JWS text or COSE hex.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "test_support.h"

#include <math.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>

#include "../src/iotl_internal.h"
#define iotl_utf8_valid_for_test iotl_utf8_valid

typedef struct {
  iotl_signer s;
  iotl_ed25519_key ek;
  iotl_es256_key pk;
} any_key;

static int load_key(any_key *k, const char *alg, const char *hex) {
  uint8_t secret[32];
  if (hex_to_bytes(hex, secret, 32) != 32) return IOTL_ERR_ARG;
  if (strcmp(alg, "ed25519") == 0) return iotl_signer_ed25519(&k->s, &k->ek, secret);
  if (strcmp(alg, "es256") == 0) return iotl_signer_es256(&k->s, &k->pk, secret, test_rng, NULL);
  return IOTL_ERR_ARG;
}

static void print_hex(const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) printf("%02x", p[i]);
}

static int fail(int rc, const char *what) {
  fprintf(stderr, "%s: %s (%d)\n", what, iotl_strerror(rc), rc);
  return 2;
}

static int add_spec(iotl_reading *r, char *spec) {
  char *eq = strchr(spec, '='), *colon, *value;
  if (!eq) return IOTL_ERR_ARG;
  *eq = 0;
  colon = eq + 1;
  value = colon[0] && colon[1] ? colon + 2 : colon + strlen(colon);
  if (colon[0] == 0 || (colon[1] != ':' && colon[1] != 0)) return IOTL_ERR_ARG;
  switch (colon[0]) {
    case 'i': return iotl_reading_int(r, spec, strtoll(value, NULL, 10));
    case 'm': {
      char *slash = strchr(value, '/');
      return iotl_reading_decimal(r, spec, strtoll(value, NULL, 10), slash ? (unsigned)atoi(slash + 1) : 0);
    }
    case 'd': return iotl_reading_double(r, spec, strtod(value, NULL));
    case 'b': return iotl_reading_bool(r, spec, atoi(value));
    case 'n': return iotl_reading_null(r, spec);
    case 's': return iotl_reading_string(r, spec, value);
    default: return IOTL_ERR_ARG;
  }
}

static int cmd_sign(int argc, char **argv) {
  any_key k;
  file_counter fc;
  iotl_counter_store store;
  iotl_device d;
  iotl_reading r;
  uint8_t buf[1024], out[2048];
  size_t len = 0;
  uint64_t counter = 0, ts;
  int rc, i, cose;
  const char *fmt;
  if (argc < 7) return fail(IOTL_ERR_ARG, "usage");
  if ((rc = load_key(&k, argv[0], argv[1]))) return fail(rc, "key");
  fmt = argv[2];
  cose = strncmp(fmt, "cose", 4) == 0;
  fc.path = argv[3];
  store = file_counter_store(&fc);
  if ((rc = iotl_device_init(&d, &k.s, &store, (uint32_t)atoi(argv[4])))) return fail(rc, "device");
  ts = strcmp(argv[5], "-") == 0 ? IOTL_NO_TS : strtoull(argv[5], NULL, 10);
  iotl_reading_init(&r, strcmp(fmt, "cose-cbor") == 0 ? IOTL_CBOR : IOTL_JSON, buf, sizeof buf);
  for (i = 6; i < argc; i++)
    if ((rc = add_spec(&r, argv[i]))) return fail(rc, argv[i]);
  rc = cose ? iotl_device_sign_cose(&d, &r, ts, out, sizeof out, &len, &counter)
            : iotl_device_sign_jws(&d, &r, ts, (char *)out, sizeof out, &len, &counter);
  if (rc) return fail(rc, "sign");
  printf("%s %llu ", iotl_device_did(&d), (unsigned long long)counter);
  if (cose) print_hex(out, len);
  else printf("%s", (char *)out);
  printf("\n");
  return 0;
}

static int cmd_envelope(int cose, int argc, char **argv) {
  any_key k;
  uint8_t payload[1024], out[4096];
  char did[IOTL_DID_MAX];
  const char *kid = NULL;
  size_t len = 0;
  int n, rc;
  if (argc < 3) return fail(IOTL_ERR_ARG, "usage");
  if ((rc = load_key(&k, argv[0], argv[1]))) return fail(rc, "key");
  if ((n = hex_to_bytes(argv[2], payload, sizeof payload)) < 0) return fail(IOTL_ERR_ARG, "payload");
  if (argc > 3) {
    if ((rc = iotl_did_key(&k.s, did, sizeof did))) return fail(rc, "did");
    kid = strcmp(argv[3], "-") == 0 ? did : argv[3];
  }
  rc = cose ? iotl_cose_sign1(&k.s, kid, 0, payload, (size_t)n, out, sizeof out, &len)
            : iotl_jws(&k.s, kid, payload, (size_t)n, (char *)out, sizeof out, &len);
  if (rc) return fail(rc, "sign");
  if (cose) print_hex(out, len);
  else printf("%s", (char *)out);
  printf("\n");
  return 0;
}

/* ------------------------------------------------------------------ fuzz */

static uint64_t rng_state;

static uint64_t rnd(void) {
  /* xorshift64*: reproducible from the seed */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

static unsigned below(unsigned n) {
  return (unsigned)(rnd() % n);
}

/* Random text: ASCII, escapes, multi-byte UTF-8, now and then an invalid byte or a reserved name. */
static size_t random_text(char *out, size_t cap, int is_name, char names[][32], unsigned nnames) {
  static const char *PIECES[] = {"a", "b", "z", "T", "0", "_", "-", " ", "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "/",
                                 "\xc3\xa9", "\xe2\x82\xac", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x9f\x98\x80",
                                 "\xf4\x8f\xbf\xbf", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\x80", "\xe2\x82"};
  size_t n = 0, parts, i;
  unsigned pick = below(40);
  if (is_name && pick == 0) return (size_t)snprintf(out, cap, "counter");
  if (is_name && pick == 1) return (size_t)snprintf(out, cap, "ts");
  if (is_name && pick < 5 && nnames) return (size_t)snprintf(out, cap, "%s", names[below(nnames)]);
  parts = below(is_name ? 6 : 12);
  for (i = 0; i < parts; i++) {
    const char *p = PIECES[below(pick < 30 ? 21 : (unsigned)(sizeof PIECES / sizeof PIECES[0]))];
    size_t l = strlen(p);
    if (n + l + 1 > cap) break;
    memcpy(out + n, p, l);
    n += l;
  }
  out[n] = 0;
  return n;
}

static double random_double(void) {
  static const double NICE[] = {0.1, -21.4, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.5, 65504, 100000, -0.0, 1.0 / 3};
  switch (below(4)) {
    case 0: return NICE[below(sizeof NICE / sizeof NICE[0])];
    case 1: return (double)(int64_t)(rnd() >> below(64)) / pow(10, below(8));
    case 2: return ldexp((double)(rnd() >> 11), (int)below(200) - 100);
    default: {
      uint64_t b = rnd();
      double d;
      memcpy(&d, &b, 8);
      return d; /* any bits: NaN and infinities too */
    }
  }
}

static int64_t random_int(void) {
  static const int64_t EDGE[] = {0, -1, 23, 24, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                                 IOTL_MAX_SAFE_INTEGER, -IOTL_MAX_SAFE_INTEGER, IOTL_MAX_SAFE_INTEGER + 1,
                                 INT64_MIN, INT64_MAX, 999999999999999LL, 1000000000000000LL};
  if (below(2)) return EDGE[below(sizeof EDGE / sizeof EDGE[0])];
  return (int64_t)rnd() >> below(64);
}

/* The message the signer was asked to sign and the signature, to check them against the envelope. */
typedef struct {
  iotl_signer inner;
  uint8_t msg[4096];
  size_t len;
  uint8_t sig[64];
} recorder;

static int recording_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]) {
  recorder *r = (recorder *)ctx;
  int rc = r->inner.sign(r->inner.ctx, msg, len, sig);
  if (len <= sizeof r->msg) {
    memcpy(r->msg, msg, len);
    r->len = len;
    memcpy(r->sig, sig, 64);
  }
  return rc;
}

static const char *FUZZ_ED25519 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char *FUZZ_ES256 = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

static int backend_verifies(iotl_alg alg, const uint8_t *msg, size_t len, const uint8_t sig[64], const uint8_t *pub) {
  mbedtls_ecp_group grp;
  mbedtls_ecp_point q;
  mbedtls_mpi d, r, s;
  uint8_t hash[32], secret[32];
  int ok;
  if (alg == IOTL_ED25519) return crypto_sign_ed25519_verify_detached(sig, msg, len, pub) == 0;
  /* mbedTLS 2.28 cannot read a compressed point: the public point again from the known key. */
  hex_to_bytes(FUZZ_ES256, secret, 32);
  mbedtls_ecp_group_init(&grp);
  mbedtls_ecp_point_init(&q);
  mbedtls_mpi_init(&d);
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  ok = iotl_sha256(msg, len, hash) == IOTL_OK && mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
       mbedtls_mpi_read_binary(&d, secret, 32) == 0 && mbedtls_ecp_mul(&grp, &q, &d, &grp.G, test_rng, NULL) == 0 &&
       mbedtls_mpi_read_binary(&r, sig, 32) == 0 && mbedtls_mpi_read_binary(&s, sig + 32, 32) == 0 &&
       mbedtls_ecdsa_verify(&grp, hash, 32, &q, &r, &s) == 0;
  mbedtls_mpi_free(&s);
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&d);
  mbedtls_ecp_point_free(&q);
  mbedtls_ecp_group_free(&grp);
  return ok;
}

typedef struct {
  uint64_t value;
} fuzz_store;

static int fs_load(void *ctx, uint64_t *v) {
  *v = ((fuzz_store *)ctx)->value;
  return 0;
}

static int fs_save(void *ctx, uint64_t v) {
  ((fuzz_store *)ctx)->value = v;
  return 0;
}

static void print_text_hex(const char *p, size_t n) {
  putchar('x');
  print_hex((const uint8_t *)p, n);
}

/* One random reading, signed; 0 when every check holds. Prints a line unless check_only. */
static int fuzz_one(int check_only) {
  static uint8_t rbuf[640], out[2048], payload[1024];
  static char names[IOTL_MAX_FIELDS + 8][32];
  static any_key keys[2];
  static int loaded = 0;
  static const char *FORMATS[] = {"jws", "cose-json", "cose-cbor"};
  recorder rec;
  iotl_signer s;
  iotl_reading r;
  iotl_device d;
  fuzz_store st;
  iotl_counter_store store;
  unsigned alg = below(2), fmt = below(3), nfields = below(IOTL_MAX_FIELDS + 5), nnames = 0, i;
  size_t rcap = 8 + below(600), ocap = 40 + below(1400), len = 0, plen = 0;
  uint64_t counter = below(8) == 0 ? (uint64_t)IOTL_MAX_SAFE_INTEGER + below(2) : 1 + below(100000), used = 0;
  uint64_t ts = below(4) == 0 ? IOTL_NO_TS : below(8) == 0 ? (uint64_t)IOTL_MAX_SAFE_INTEGER + below(2) : rnd() >> 24;
  int rc, bad = 0, cose = fmt > 0;
  if (!loaded) {
    if (load_key(&keys[0], "ed25519", FUZZ_ED25519) || load_key(&keys[1], "es256", FUZZ_ES256)) return 1;
    loaded = 1;
  }
  rec.inner = keys[alg].s;
  rec.len = 0;
  s = keys[alg].s;
  s.sign = recording_sign;
  s.ctx = &rec;
  iotl_reading_init(&r, fmt == 2 ? IOTL_CBOR : IOTL_JSON, rbuf, rcap);
  if (!check_only)
  {
    printf("%s %s %lu %lu %llu ", alg ? "es256" : "ed25519", FORMATS[fmt], (unsigned long)rcap, (unsigned long)ocap,
           (unsigned long long)counter);
    if (ts == IOTL_NO_TS) putchar('-');
    else printf("%llu", (unsigned long long)ts);
  }
  for (i = 0; i < nfields; i++) {
    char name[32], text[96];
    size_t nlen = random_text(name, sizeof name, 1, names, nnames), tlen = 0;
    unsigned kind = below(6);
    int64_t iv = 0;
    double dv = 0;
    unsigned dec = 0;
    switch (kind) {
      case 0: iv = random_int(); rc = iotl_reading_int(&r, name, iv); break;
      case 1:
        iv = below(3) ? (int64_t)(rnd() >> (14 + below(50))) * (below(2) ? 1 : -1) : random_int();
        dec = below(8);
        rc = iotl_reading_decimal(&r, name, iv, dec);
        break;
      case 2: dv = random_double(); rc = iotl_reading_double(&r, name, dv); break;
      case 3: iv = below(2); rc = iotl_reading_bool(&r, name, (int)iv); break;
      case 4: rc = iotl_reading_null(&r, name); break;
      default:
        tlen = random_text(text, sizeof text, 0, names, 0);
        rc = iotl_reading_string_n(&r, name, text, tlen);
    }
    if (rc == IOTL_OK && nnames < sizeof names / sizeof names[0]) memcpy(names[nnames++], name, nlen + 1);
    if (rc != IOTL_OK && rc != IOTL_ERR_NAME && rc != IOTL_ERR_VALUE && rc != IOTL_ERR_TOO_MANY && rc != IOTL_ERR_SPACE) {
      fprintf(stderr, "fuzz: add returned %d\n", rc);
      bad = 1;
    }
    if (!check_only) {
      printf(" %c:", "imdbns"[kind]);
      print_text_hex(name, nlen);
      putchar(':');
      if (kind == 0) printf("%lld", (long long)iv);
      else if (kind == 1) printf("%lld/%u", (long long)iv, dec);
      else if (kind == 2) {
        uint64_t bits;
        memcpy(&bits, &dv, 8);
        printf("%016llx", (unsigned long long)bits);
      } else if (kind == 3) printf("%d", (int)iv);
      else if (kind == 4) putchar('-');
      else print_text_hex(text, tlen);
      printf(":%d", rc);
    }
  }
  st.value = counter - 1;
  store.load = fs_load;
  store.save = fs_save;
  store.ctx = &st;
  rc = iotl_device_init(&d, &s, &store, 1);
  if (rc == IOTL_OK)
    rc = cose ? iotl_device_sign_cose(&d, &r, ts, out, ocap, &len, &used)
              : iotl_device_sign_jws(&d, &r, ts, (char *)out, ocap, &len, &used);
  if (!check_only) {
    printf(" = %d ", rc);
    if (rc == IOTL_OK && cose) print_hex(out, len);
    else if (rc == IOTL_OK) printf("%s", (char *)out);
    else putchar('-');
    putchar('\n');
  }
  if (rc != IOTL_OK) {
    if (rc != IOTL_ERR_SPACE && rc != IOTL_ERR_COUNTER && rc != IOTL_ERR_ARG) {
      fprintf(stderr, "fuzz: sign returned %d\n", rc);
      bad = 1;
    }
    return bad;
  }
  /* What was signed verifies, and is what the envelope carries. */
  if (used != counter || !backend_verifies(s.alg, rec.msg, rec.len, rec.sig, s.public_key)) bad = 1;
  if (iotl_reading_payload(&r, counter, ts, payload, sizeof payload, &plen) != IOTL_OK) bad = 1;
  if (cose) {
    if (len < 66 + plen || memcmp(out + len - 64, rec.sig, 64) != 0 || out[len - 66] != 0x58 ||
        memcmp(out + len - 66 - plen, payload, plen) != 0 || rec.len < plen ||
        memcmp(rec.msg + rec.len - plen, payload, plen) != 0)
      bad = 1;
  } else {
    if (len != rec.len + 87 || memcmp(out, rec.msg, rec.len) != 0 || out[rec.len] != '.' || out[len] != 0) bad = 1;
    if (r.encoding == IOTL_JSON && !iotl_utf8_valid_for_test(payload, plen)) bad = 1;
  }
  if (bad) fprintf(stderr, "fuzz: envelope does not check (alg %u format %u)\n", alg, fmt);
  return bad;
}

static int cmd_fuzz(int check_only, int argc, char **argv) {
  unsigned long count, i;
  int bad = 0;
  if (argc < 2) return fail(IOTL_ERR_ARG, "usage");
  rng_state = strtoull(argv[0], NULL, 10) * 0x9e3779b97f4a7c15ULL + 1;
  count = strtoul(argv[1], NULL, 10);
  for (i = 0; i < count; i++) bad |= fuzz_one(check_only);
  if (check_only) printf("iotl_tool fuzz-check: %lu random readings %s\n", count, bad ? "FAILED" : "passed");
  return bad;
}

int main(int argc, char **argv) {
  (void)failures;
  if (argc < 2) return fail(IOTL_ERR_ARG, "usage: iotl_tool did|jws|cose|sign|fuzz|fuzz-check ...");
  if (strcmp(argv[1], "did") == 0 && argc == 4) {
    any_key k;
    char did[IOTL_DID_MAX];
    int rc = load_key(&k, argv[2], argv[3]);
    if (!rc) rc = iotl_did_key(&k.s, did, sizeof did);
    if (rc) return fail(rc, "did");
    printf("%s\n", did);
    return 0;
  }
  if (strcmp(argv[1], "jws") == 0) return cmd_envelope(0, argc - 2, argv + 2);
  if (strcmp(argv[1], "cose") == 0) return cmd_envelope(1, argc - 2, argv + 2);
  if (strcmp(argv[1], "sign") == 0) return cmd_sign(argc - 2, argv + 2);
  if (strcmp(argv[1], "fuzz") == 0) return cmd_fuzz(0, argc - 2, argv + 2);
  if (strcmp(argv[1], "fuzz-check") == 0) return cmd_fuzz(1, argc - 2, argv + 2);
  return fail(IOTL_ERR_ARG, "unknown command");
}
