/*
 * iot-ledger device signing library: base64url, base58btc, JSON and CBOR writers.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "iotl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* ------------------------------------------------------------------ sink */

void iotl_sink_init(iotl_sink *k, uint8_t *buf, size_t cap, int b64) {
  k->buf = buf;
  k->cap = cap;
  k->len = 0;
  k->b64 = b64;
  k->acc = 0;
  k->nacc = 0;
}

static void raw(iotl_sink *k, uint8_t b) {
  if (k->buf && k->len < k->cap) k->buf[k->len] = b;
  k->len++;
}

void iotl_sink_byte(iotl_sink *k, uint8_t b) {
  if (!k->b64) {
    raw(k, b);
    return;
  }
  k->acc = (k->acc << 8) | b;
  if (++k->nacc == 3) {
    raw(k, (uint8_t)B64URL[(k->acc >> 18) & 63]);
    raw(k, (uint8_t)B64URL[(k->acc >> 12) & 63]);
    raw(k, (uint8_t)B64URL[(k->acc >> 6) & 63]);
    raw(k, (uint8_t)B64URL[k->acc & 63]);
    k->acc = 0;
    k->nacc = 0;
  }
}

void iotl_sink_put(iotl_sink *k, const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) iotl_sink_byte(k, p[i]);
}

void iotl_sink_str(iotl_sink *k, const char *s) {
  iotl_sink_put(k, (const uint8_t *)s, strlen(s));
}

void iotl_sink_flush(iotl_sink *k) {
  if (!k->b64 || k->nacc == 0) return;
  if (k->nacc == 1) {
    raw(k, (uint8_t)B64URL[(k->acc >> 2) & 63]);
    raw(k, (uint8_t)B64URL[(k->acc << 4) & 63]);
  } else {
    raw(k, (uint8_t)B64URL[(k->acc >> 10) & 63]);
    raw(k, (uint8_t)B64URL[(k->acc >> 4) & 63]);
    raw(k, (uint8_t)B64URL[(k->acc << 2) & 63]);
  }
  k->acc = 0;
  k->nacc = 0;
}

int iotl_sink_ok(const iotl_sink *k) {
  return k->len <= k->cap;
}

/* ------------------------------------------------------------------ UTF-8 */

int iotl_utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    size_t need;
    uint32_t cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return 0;
    }
    if (n - i - 1 < need) return 0;
    {
      size_t j;
      for (j = 1; j <= need; j++) {
        if ((p[i + j] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i + j] & 0x3f);
      }
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += need + 1;
  }
  return 1;
}

/* ------------------------------------------------------------------ JSON */

void iotl_json_string(iotl_sink *k, const uint8_t *p, size_t n) {
  static const char HEX[] = "0123456789abcdef";
  size_t i;
  iotl_sink_byte(k, '"');
  for (i = 0; i < n; i++) {
    uint8_t c = p[i];
    switch (c) {
      case '"': iotl_sink_str(k, "\\\""); break;
      case '\\': iotl_sink_str(k, "\\\\"); break;
      case '\b': iotl_sink_str(k, "\\b"); break;
      case '\f': iotl_sink_str(k, "\\f"); break;
      case '\n': iotl_sink_str(k, "\\n"); break;
      case '\r': iotl_sink_str(k, "\\r"); break;
      case '\t': iotl_sink_str(k, "\\t"); break;
      default:
        if (c < 0x20) {
          iotl_sink_str(k, "\\u00");
          iotl_sink_byte(k, (uint8_t)HEX[c >> 4]);
          iotl_sink_byte(k, (uint8_t)HEX[c & 15]);
        } else {
          iotl_sink_byte(k, c);
        }
    }
  }
  iotl_sink_byte(k, '"');
}

static void json_uint(iotl_sink *k, uint64_t v) {
  char d[20];
  int n = 0;
  do {
    d[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  while (n) iotl_sink_byte(k, (uint8_t)d[--n]);
}

void iotl_json_int(iotl_sink *k, int64_t v) {
  if (v < 0) {
    iotl_sink_byte(k, '-');
    json_uint(k, (uint64_t)0 - (uint64_t)v);
  } else {
    json_uint(k, (uint64_t)v);
  }
}

void iotl_json_decimal(iotl_sink *k, int64_t mantissa, unsigned decimals) {
  char d[24];
  int n = 0, point;
  uint64_t m;
  if (mantissa < 0) iotl_sink_byte(k, '-');
  m = mantissa < 0 ? (uint64_t)0 - (uint64_t)mantissa : (uint64_t)mantissa;
  /* Drop trailing zeros of the fraction: 21.40 is written 21.4, as JavaScript does. */
  while (decimals > 0 && m % 10 == 0 && m != 0) {
    m /= 10;
    decimals--;
  }
  if (m == 0) decimals = 0;
  do {
    d[n++] = (char)('0' + (int)(m % 10));
    m /= 10;
  } while (m);
  while (n < (int)decimals + 1) d[n++] = '0';
  point = (int)decimals;
  while (n) {
    iotl_sink_byte(k, (uint8_t)d[--n]);
    if (n == point && point > 0) iotl_sink_byte(k, '.');
  }
}

/*
 * The shortest decimal digits that read back as v (at most 17), as ECMAScript's
 * Number::toString picks them, and n with v = 0.d1d2... * 10^n.
 */
static int shortest_digits(double v, char digits[18], int *n) {
  char buf[40];
  int p;
  for (p = 1; p <= 17; p++) {
    int i, k = 0;
    char *e;
    snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (strtod(buf, NULL) != v) continue;
    for (i = 0; buf[i] && buf[i] != 'e'; i++)
      if (buf[i] >= '0' && buf[i] <= '9') digits[k++] = buf[i];
    e = strchr(buf, 'e');
    if (!e) return 0;
    *n = (int)strtol(e + 1, NULL, 10) + 1;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = 0;
    return k;
  }
  return 0;
}

int iotl_json_double(iotl_sink *k, double v) {
  char digits[18];
  int n = 0, len, i;
  if (!isfinite(v)) return IOTL_ERR_VALUE;
  if (v == 0) {
    iotl_sink_byte(k, '0'); /* also -0, as JSON.stringify writes it */
    return IOTL_OK;
  }
  if (v < 0) {
    iotl_sink_byte(k, '-');
    v = -v;
  }
  len = shortest_digits(v, digits, &n);
  if (len == 0) return IOTL_ERR_VALUE;
  if (len <= n && n <= 21) {
    iotl_sink_str(k, digits);
    for (i = len; i < n; i++) iotl_sink_byte(k, '0');
  } else if (0 < n && n <= 21) {
    iotl_sink_put(k, (const uint8_t *)digits, (size_t)n);
    iotl_sink_byte(k, '.');
    iotl_sink_str(k, digits + n);
  } else if (-6 < n && n <= 0) {
    iotl_sink_str(k, "0.");
    for (i = 0; i < -n; i++) iotl_sink_byte(k, '0');
    iotl_sink_str(k, digits);
  } else {
    iotl_sink_byte(k, (uint8_t)digits[0]);
    if (len > 1) {
      iotl_sink_byte(k, '.');
      iotl_sink_str(k, digits + 1);
    }
    iotl_sink_byte(k, 'e');
    iotl_sink_byte(k, n - 1 < 0 ? '-' : '+');
    json_uint(k, (uint64_t)(n - 1 < 0 ? 1 - n : n - 1));
  }
  return IOTL_OK;
}

/* ------------------------------------------------------------------ CBOR */

size_t iotl_cbor_head_len(uint64_t arg) {
  if (arg < 24) return 1;
  if (arg <= 0xff) return 2;
  if (arg <= 0xffff) return 3;
  if (arg <= 0xffffffffu) return 5;
  return 9;
}

void iotl_cbor_head(iotl_sink *k, unsigned major, uint64_t arg) {
  uint8_t mt = (uint8_t)(major << 5);
  int bytes, i;
  if (arg < 24) {
    iotl_sink_byte(k, (uint8_t)(mt | arg));
    return;
  }
  if (arg <= 0xff) {
    iotl_sink_byte(k, mt | 24);
    bytes = 1;
  } else if (arg <= 0xffff) {
    iotl_sink_byte(k, mt | 25);
    bytes = 2;
  } else if (arg <= 0xffffffffu) {
    iotl_sink_byte(k, mt | 26);
    bytes = 4;
  } else {
    iotl_sink_byte(k, mt | 27);
    bytes = 8;
  }
  for (i = bytes - 1; i >= 0; i--) iotl_sink_byte(k, (uint8_t)(arg >> (8 * i)));
}

void iotl_cbor_int(iotl_sink *k, int64_t v) {
  if (v >= 0) iotl_cbor_head(k, 0, (uint64_t)v);
  else iotl_cbor_head(k, 1, (uint64_t)(-(v + 1)));
}

static uint32_t float_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

static uint64_t double_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

/* IEEE 754 half-precision bits of f when exactly representable, else -1. */
static long half_bits(float f) {
  uint32_t bits = float_bits(f);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int exp32 = (int)((bits >> 23) & 0xff);
  uint32_t mant = bits & 0x7fffffu;
  int exp;
  if (exp32 == 0) return mant == 0 ? (long)sign : -1;
  exp = exp32 - 127;
  if (exp > 15 || exp < -24) return -1;
  if (exp >= -14) return (mant & 0x1fff) ? -1 : (long)(sign | (uint32_t)((exp + 15) << 10) | (mant >> 13));
  {
    uint32_t significand = 0x800000u | mant;
    int shift = -(exp + 1);
    if (significand & ((1u << shift) - 1)) return -1;
    return (long)(sign | (significand >> shift));
  }
}

void iotl_cbor_double(iotl_sink *k, double v) {
  float f = (float)v;
  int i;
  if (v == floor(v) && fabs(v) <= (double)IOTL_MAX_SAFE_INTEGER && !(v == 0 && signbit(v))) {
    iotl_cbor_int(k, (int64_t)v);
    return;
  }
  if ((double)f == v) {
    long h = half_bits(f);
    if (h >= 0) {
      iotl_sink_byte(k, 0xf9);
      iotl_sink_byte(k, (uint8_t)(h >> 8));
      iotl_sink_byte(k, (uint8_t)h);
    } else {
      uint32_t b = float_bits(f);
      iotl_sink_byte(k, 0xfa);
      for (i = 3; i >= 0; i--) iotl_sink_byte(k, (uint8_t)(b >> (8 * i)));
    }
    return;
  }
  {
    uint64_t b = double_bits(v);
    iotl_sink_byte(k, 0xfb);
    for (i = 7; i >= 0; i--) iotl_sink_byte(k, (uint8_t)(b >> (8 * i)));
  }
}

/* ------------------------------------------------------------------ base58btc */

int iotl_base58(const uint8_t *p, size_t n, char *out, size_t cap, size_t *out_len) {
  uint8_t digits[64]; /* 40 bytes need at most 55 base58 digits */
  size_t nd = 0, zeros = 0, i, j, len;
  if (n > 40) return IOTL_ERR_ARG;
  while (zeros < n && p[zeros] == 0) zeros++;
  for (i = zeros; i < n; i++) {
    unsigned carry = p[i];
    for (j = 0; j < nd; j++) {
      carry += (unsigned)digits[j] << 8;
      digits[j] = (uint8_t)(carry % 58);
      carry /= 58;
    }
    while (carry) {
      digits[nd++] = (uint8_t)(carry % 58);
      carry /= 58;
    }
  }
  len = zeros + nd;
  if (len + 1 > cap) return IOTL_ERR_SPACE;
  for (i = 0; i < zeros; i++) out[i] = '1';
  for (j = 0; j < nd; j++) out[zeros + j] = B58[digits[nd - 1 - j]];
  out[len] = 0;
  if (out_len) *out_len = len;
  return IOTL_OK;
}
