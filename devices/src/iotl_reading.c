/*
 * iot-ledger device signing library: a reading's fields, kept sorted, and its payload.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Each field is stored as its raw name, a NUL, then its encoded form (JSON "name":value or
 * CBOR text(name) value). Fields are inserted in canonical order: RFC 8785 (JSON, UTF-16
 * code units) or RFC 8949 4.2.1 (CBOR, encoded key bytes: shorter first), so a reading's
 * bytes do not depend on the order its fields were added in.
 */
#include "iotl_internal.h"

#include <math.h>
#include <string.h>

int iotl_reading_init(iotl_reading *r, iotl_encoding encoding, uint8_t *buf, size_t cap) {
  if (!r || !buf || (encoding != IOTL_JSON && encoding != IOTL_CBOR)) return IOTL_ERR_ARG;
  memset(r, 0, sizeof *r);
  r->encoding = encoding;
  r->buf = buf;
  r->cap = cap;
  return IOTL_OK;
}

/* The next UTF-8 code point of a valid string, mapped so that comparing the mapped values
 * compares UTF-16 code units: U+E000..U+FFFF sort after the surrogate pairs of U+10000 up. */
static uint32_t utf16_key(const uint8_t *s, size_t *i) {
  uint8_t c = s[*i];
  uint32_t cp;
  if (c < 0x80) {
    cp = c;
    *i += 1;
  } else if (c < 0xe0) {
    cp = ((uint32_t)(c & 0x1f) << 6) | (s[*i + 1] & 0x3f);
    *i += 2;
  } else if (c < 0xf0) {
    cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[*i + 1] & 0x3f) << 6) | (s[*i + 2] & 0x3f);
    *i += 3;
  } else {
    cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[*i + 1] & 0x3f) << 12) | ((uint32_t)(s[*i + 2] & 0x3f) << 6) |
         (s[*i + 3] & 0x3f);
    *i += 4;
  }
  if (cp >= 0x10000) return cp - 0x10000 + 0xd800;
  if (cp >= 0xe000) return cp + 0x100000;
  return cp;
}

static int compare_names(iotl_encoding enc, const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (enc == IOTL_CBOR) {
    if (la != lb) return la < lb ? -1 : 1;
    return memcmp(a, b, la);
  }
  {
    size_t i = 0, j = 0;
    while (i < la && j < lb) {
      uint32_t x = utf16_key((const uint8_t *)a, &i), y = utf16_key((const uint8_t *)b, &j);
      if (x != y) return x < y ? -1 : 1;
    }
    if (i < la) return 1;
    if (j < lb) return -1;
    return 0;
  }
}

static void reverse(uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n / 2; i++) {
    uint8_t t = p[i];
    p[i] = p[n - 1 - i];
    p[n - 1 - i] = t;
  }
}

/* Moves the last `tail` bytes of p[0..n) to its front. */
static void rotate_right(uint8_t *p, size_t n, size_t tail) {
  reverse(p, n - tail);
  reverse(p + n - tail, tail);
  reverse(p, n);
}

typedef enum { V_INT, V_DECIMAL, V_DOUBLE, V_BOOL, V_NULL, V_STRING } value_kind;

typedef struct {
  value_kind kind;
  int64_t i;
  unsigned decimals;
  double d;
  const char *s;
  size_t n;
} value;

static int encode_value(iotl_encoding enc, const value *v, iotl_sink *k) {
  switch (v->kind) {
    case V_INT:
      if (enc == IOTL_JSON) iotl_json_int(k, v->i);
      else iotl_cbor_int(k, v->i);
      return IOTL_OK;
    case V_DECIMAL:
      if (enc == IOTL_JSON) {
        iotl_json_decimal(k, v->i, v->decimals);
      } else {
        static const double P10[] = {1, 10, 100, 1000, 1e4, 1e5, 1e6};
        /* One correctly rounded division: the double JSON.parse would give for the text. */
        iotl_cbor_double(k, (double)v->i / P10[v->decimals]);
      }
      return IOTL_OK;
    case V_DOUBLE:
      if (enc == IOTL_JSON) return iotl_json_double(k, v->d);
      iotl_cbor_double(k, v->d);
      return IOTL_OK;
    case V_BOOL:
      if (enc == IOTL_JSON) iotl_sink_str(k, v->i ? "true" : "false");
      else iotl_sink_byte(k, v->i ? 0xf5 : 0xf4);
      return IOTL_OK;
    case V_NULL:
      if (enc == IOTL_JSON) iotl_sink_str(k, "null");
      else iotl_sink_byte(k, 0xf6);
      return IOTL_OK;
    case V_STRING:
      if (enc == IOTL_JSON) {
        iotl_json_string(k, (const uint8_t *)v->s, v->n);
      } else {
        iotl_cbor_head(k, 3, v->n);
        iotl_sink_put(k, (const uint8_t *)v->s, v->n);
      }
      return IOTL_OK;
  }
  return IOTL_ERR_ARG;
}

/* name NUL encoded-entry */
static int encode_entry(iotl_encoding enc, const char *name, const value *v, iotl_sink *k) {
  size_t n = strlen(name);
  iotl_sink_put(k, (const uint8_t *)name, n + 1);
  if (enc == IOTL_JSON) {
    iotl_json_string(k, (const uint8_t *)name, n);
    iotl_sink_byte(k, ':');
  } else {
    iotl_cbor_head(k, 3, n);
    iotl_sink_put(k, (const uint8_t *)name, n);
  }
  return encode_value(enc, v, k);
}

static int check_name(const char *name) {
  size_t n;
  if (!name) return IOTL_ERR_ARG;
  n = strlen(name);
  if (n == 0 || !iotl_utf8_valid((const uint8_t *)name, n)) return IOTL_ERR_NAME;
  if (strcmp(name, "counter") == 0 || strcmp(name, "ts") == 0) return IOTL_ERR_NAME;
  return IOTL_OK;
}

static int add(iotl_reading *r, const char *name, const value *v) {
  iotl_sink k;
  size_t pos, i, e;
  int rc;
  if (!r || !r->buf) return IOTL_ERR_ARG;
  rc = check_name(name);
  if (rc) return rc;
  if (r->n >= IOTL_MAX_FIELDS) return IOTL_ERR_TOO_MANY;
  for (pos = 0; pos < r->n; pos++) {
    int c = compare_names(r->encoding, name, (const char *)r->buf + r->start[pos]);
    if (c == 0) return IOTL_ERR_NAME;
    if (c < 0) break;
  }
  iotl_sink_init(&k, r->buf + r->len, r->cap - r->len, 0);
  rc = encode_entry(r->encoding, name, v, &k);
  if (rc) return rc;
  if (!iotl_sink_ok(&k)) return IOTL_ERR_SPACE;
  e = k.len;
  rotate_right(r->buf + r->start[pos], r->len + e - r->start[pos], e);
  for (i = r->n + 1; i > pos; i--) r->start[i] = r->start[i - 1] + e;
  r->n++;
  r->len += e;
  return IOTL_OK;
}

int iotl_reading_int(iotl_reading *r, const char *name, int64_t value_) {
  value v = {V_INT, 0, 0, 0, NULL, 0};
  if (value_ > IOTL_MAX_SAFE_INTEGER || value_ < -IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_VALUE;
  v.i = value_;
  return add(r, name, &v);
}

int iotl_reading_decimal(iotl_reading *r, const char *name, int64_t mantissa, unsigned decimals) {
  value v = {V_DECIMAL, 0, 0, 0, NULL, 0};
  if (decimals > 6 || mantissa >= 1000000000000000LL || mantissa <= -1000000000000000LL) return IOTL_ERR_VALUE;
  v.i = mantissa;
  v.decimals = decimals;
  return add(r, name, &v);
}

int iotl_reading_double(iotl_reading *r, const char *name, double value_) {
  value v = {V_DOUBLE, 0, 0, 0, NULL, 0};
  if (!isfinite(value_)) return IOTL_ERR_VALUE;
  v.d = value_;
  return add(r, name, &v);
}

int iotl_reading_bool(iotl_reading *r, const char *name, int value_) {
  value v = {V_BOOL, 0, 0, 0, NULL, 0};
  v.i = value_ ? 1 : 0;
  return add(r, name, &v);
}

int iotl_reading_null(iotl_reading *r, const char *name) {
  value v = {V_NULL, 0, 0, 0, NULL, 0};
  return add(r, name, &v);
}

int iotl_reading_string_n(iotl_reading *r, const char *name, const char *value_, size_t len) {
  value v = {V_STRING, 0, 0, 0, NULL, 0};
  if (!value_) return IOTL_ERR_ARG;
  if (!iotl_utf8_valid((const uint8_t *)value_, len)) return IOTL_ERR_VALUE;
  v.s = value_;
  v.n = len;
  return add(r, name, &v);
}

int iotl_reading_string(iotl_reading *r, const char *name, const char *value_) {
  if (!value_) return IOTL_ERR_ARG;
  return iotl_reading_string_n(r, name, value_, strlen(value_));
}

/* ------------------------------------------------------------------ payload */

int iotl_reading_check_stamp(uint64_t counter, uint64_t ts) {
  if (counter == 0 || counter > (uint64_t)IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_COUNTER;
  if (ts != IOTL_NO_TS && ts > (uint64_t)IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_ARG;
  return IOTL_OK;
}

/* Encoded part of an entry (after the raw name and its NUL). */
static void entry_body(const iotl_reading *r, size_t i, const uint8_t **p, size_t *n) {
  const uint8_t *e = r->buf + r->start[i];
  size_t name = strlen((const char *)e) + 1;
  *p = e + name;
  *n = r->start[i + 1] - r->start[i] - name;
}

void iotl_reading_emit(const iotl_reading *r, uint64_t counter, uint64_t ts, iotl_sink *k) {
  /* counter and ts are merged into the sorted fields as they are written out. */
  uint8_t stamp[2][48];
  size_t stamp_len[2];
  int json = r->encoding == IOTL_JSON;
  /* In canonical order: "counter" < "ts" by code units, "ts" < "counter" by CBOR length. */
  int ts_first = !json && ts != IOTL_NO_TS;
  const char *stamp_name[2];
  uint64_t stamp_value[2];
  size_t nstamp = ts == IOTL_NO_TS ? 1 : 2, s = 0, i = 0, written = 0;
  stamp_name[ts_first ? 1 : 0] = "counter";
  stamp_value[ts_first ? 1 : 0] = counter;
  stamp_name[ts_first ? 0 : 1] = "ts";
  stamp_value[ts_first ? 0 : 1] = ts;
  {
    size_t j;
    for (j = 0; j < nstamp; j++) {
      iotl_sink t;
      value v = {V_INT, 0, 0, 0, NULL, 0};
      v.i = (int64_t)stamp_value[j];
      iotl_sink_init(&t, stamp[j], sizeof stamp[j], 0);
      encode_entry(r->encoding, stamp_name[j], &v, &t);
      stamp_len[j] = t.len - strlen(stamp_name[j]) - 1;
    }
  }
  if (json) iotl_sink_byte(k, '{');
  else iotl_cbor_head(k, 5, r->n + nstamp);
  while (i < r->n || s < nstamp) {
    const uint8_t *p;
    size_t n;
    if (s < nstamp && (i == r->n || compare_names(r->encoding, stamp_name[s], (const char *)r->buf + r->start[i]) < 0)) {
      p = stamp[s] + strlen(stamp_name[s]) + 1;
      n = stamp_len[s];
      s++;
    } else {
      entry_body(r, i, &p, &n);
      i++;
    }
    if (json && written++) iotl_sink_byte(k, ',');
    iotl_sink_put(k, p, n);
  }
  if (json) iotl_sink_byte(k, '}');
}

int iotl_reading_payload(const iotl_reading *r, uint64_t counter, uint64_t ts, uint8_t *out, size_t cap,
                         size_t *out_len) {
  iotl_sink k;
  int rc;
  if (!r || !r->buf || !out || !out_len) return IOTL_ERR_ARG;
  rc = iotl_reading_check_stamp(counter, ts);
  if (rc) return rc;
  iotl_sink_init(&k, out, cap, 0);
  iotl_reading_emit(r, counter, ts, &k);
  if (!iotl_sink_ok(&k)) return IOTL_ERR_SPACE;
  *out_len = k.len;
  return IOTL_OK;
}
