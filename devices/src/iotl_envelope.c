/*
 * iot-ledger device signing library: did:key, JWS compact, COSE_Sign1, the device counter.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "iotl_internal.h"

#include <string.h>

const char *iotl_strerror(int status) {
  switch (status) {
    case IOTL_OK: return "ok";
    case IOTL_ERR_ARG: return "invalid argument";
    case IOTL_ERR_SPACE: return "buffer too small";
    case IOTL_ERR_NAME: return "field name empty, not UTF-8, reserved or repeated";
    case IOTL_ERR_VALUE: return "value not representable";
    case IOTL_ERR_TOO_MANY: return "too many fields";
    case IOTL_ERR_CRYPTO: return "signing failed";
    case IOTL_ERR_STORAGE: return "counter storage failed";
    case IOTL_ERR_COUNTER: return "counter exhausted";
    case IOTL_ERR_UNSUPPORTED: return "not compiled in";
    default: return "unknown error";
  }
}

/* ------------------------------------------------------------------ did:key */

int iotl_did_key(const iotl_signer *s, char *out, size_t cap) {
  uint8_t mc[35];
  size_t n;
  if (!s || !out) return IOTL_ERR_ARG;
  /* Multicodec prefixes as unsigned varints: ed25519-pub 0xed, p256-pub 0x1200. */
  if (s->alg == IOTL_ED25519 && s->public_key_len == 32) {
    mc[0] = 0xed;
    mc[1] = 0x01;
  } else if (s->alg == IOTL_ES256 && s->public_key_len == 33) {
    mc[0] = 0x80;
    mc[1] = 0x24;
  } else {
    return IOTL_ERR_ARG;
  }
  memcpy(mc + 2, s->public_key, s->public_key_len);
  n = 2 + s->public_key_len;
  if (cap < 10) return IOTL_ERR_SPACE;
  memcpy(out, "did:key:z", 9);
  return iotl_base58(mc, n, out + 9, cap - 9, NULL);
}

/* ------------------------------------------------------------------ JWS compact */

typedef struct {
  const iotl_reading *reading; /* either a reading with its stamp */
  uint64_t counter, ts;
  const uint8_t *bytes; /* or bytes as they are */
  size_t len;
} payload_src;

static void emit_payload(const payload_src *p, iotl_sink *k) {
  if (p->reading) iotl_reading_emit(p->reading, p->counter, p->ts, k);
  else iotl_sink_put(k, p->bytes, p->len);
}

static size_t payload_len(const payload_src *p) {
  iotl_sink k;
  iotl_sink_init(&k, NULL, 0, 0);
  emit_payload(p, &k);
  return k.len;
}

static int sign_with(const iotl_signer *s, const uint8_t *msg, size_t len, uint8_t sig[64]) {
  if (!s->sign) return IOTL_ERR_ARG;
  return s->sign(s->ctx, msg, len, sig) == 0 ? IOTL_OK : IOTL_ERR_CRYPTO;
}

static int jws(const iotl_signer *s, const char *kid, const payload_src *p, char *out, size_t cap, size_t *out_len) {
  iotl_sink k;
  uint8_t sig[64];
  size_t input_len;
  int rc;
  if (!s || !out || !out_len) return IOTL_ERR_ARG;
  if (s->alg != IOTL_ED25519 && s->alg != IOTL_ES256) return IOTL_ERR_ARG;
  if (kid && !iotl_utf8_valid((const uint8_t *)kid, strlen(kid))) return IOTL_ERR_ARG;
  iotl_sink_init(&k, (uint8_t *)out, cap, 1);
  /* The header as JSON.stringify({alg, kid}) writes it, like the TypeScript signer. */
  iotl_sink_str(&k, s->alg == IOTL_ED25519 ? "{\"alg\":\"EdDSA\"" : "{\"alg\":\"ES256\"");
  if (kid) {
    iotl_sink_str(&k, ",\"kid\":");
    iotl_json_string(&k, (const uint8_t *)kid, strlen(kid));
  }
  iotl_sink_byte(&k, '}');
  iotl_sink_flush(&k);
  k.b64 = 0;
  iotl_sink_byte(&k, '.');
  k.b64 = 1;
  emit_payload(p, &k);
  iotl_sink_flush(&k);
  input_len = k.len;
  /* '.', 86 characters of signature, NUL */
  if (input_len + 88 > cap) return IOTL_ERR_SPACE;
  rc = sign_with(s, (const uint8_t *)out, input_len, sig);
  if (rc) return rc;
  k.b64 = 0;
  iotl_sink_byte(&k, '.');
  k.b64 = 1;
  iotl_sink_put(&k, sig, 64);
  iotl_sink_flush(&k);
  out[k.len] = 0;
  *out_len = k.len;
  return IOTL_OK;
}

int iotl_jws(const iotl_signer *s, const char *kid, const uint8_t *payload, size_t payload_len_, char *out, size_t cap,
             size_t *out_len) {
  payload_src p = {NULL, 0, 0, NULL, 0};
  if (!payload && payload_len_) return IOTL_ERR_ARG;
  p.bytes = payload;
  p.len = payload_len_;
  return jws(s, kid, &p, out, cap, out_len);
}

/* ------------------------------------------------------------------ COSE_Sign1 */

static int cose_alg_byte(const iotl_signer *s, int fully_specified, uint8_t *b) {
  /* CBOR negative integers: -8 = 0x27, -7 = 0x26, -19 = 0x32, -9 = 0x28. */
  if (s->alg == IOTL_ED25519) *b = fully_specified ? 0x32 : 0x27;
  else if (s->alg == IOTL_ES256) *b = fully_specified ? 0x28 : 0x26;
  else return IOTL_ERR_ARG;
  return IOTL_OK;
}

/*
 * The payload is written once, at the place it keeps in the finished message; the
 * Sig_structure is built in front of it, signed, then replaced by the COSE_Sign1 head.
 */
static int cose(const iotl_signer *s, const char *kid, int fully_specified, const payload_src *p, uint8_t *out,
                size_t cap, size_t *out_len) {
  static const uint8_t SIGNATURE1[] = {0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1'};
  uint8_t alg, sig[64];
  iotl_sink k;
  size_t plen, kid_len = 0, head_cose, head_sig, at, total;
  int rc;
  if (!s || !out || !out_len) return IOTL_ERR_ARG;
  rc = cose_alg_byte(s, fully_specified, &alg);
  if (rc) return rc;
  if (kid) kid_len = strlen(kid);
  plen = payload_len(p);
  /* D2 84 | 43 A1 01 alg | {4: kid} or {} | bstr head */
  head_cose = 2 + 4 + (kid ? 2 + iotl_cbor_head_len(kid_len) + kid_len : 1) + iotl_cbor_head_len(plen);
  /* 84 "Signature1" | 43 A1 01 alg | 40 | bstr head */
  head_sig = sizeof SIGNATURE1 + 4 + 1 + iotl_cbor_head_len(plen);
  at = head_cose > head_sig ? head_cose : head_sig;
  total = head_cose + plen + 2 + 64;
  if (at + plen + 2 + 64 > cap) return IOTL_ERR_SPACE;

  iotl_sink_init(&k, out + at - head_sig, head_sig + plen, 0);
  iotl_sink_put(&k, SIGNATURE1, sizeof SIGNATURE1);
  iotl_sink_byte(&k, 0x43);
  iotl_sink_byte(&k, 0xa1);
  iotl_sink_byte(&k, 0x01);
  iotl_sink_byte(&k, alg);
  iotl_sink_byte(&k, 0x40); /* external_aad: empty */
  iotl_cbor_head(&k, 2, plen);
  emit_payload(p, &k);
  if (!iotl_sink_ok(&k) || k.len != head_sig + plen) return IOTL_ERR_ARG;
  rc = sign_with(s, out + at - head_sig, head_sig + plen, sig);
  if (rc) return rc;

  iotl_sink_init(&k, out + at - head_cose, head_cose, 0);
  iotl_sink_byte(&k, 0xd2);
  iotl_sink_byte(&k, 0x84);
  iotl_sink_byte(&k, 0x43);
  iotl_sink_byte(&k, 0xa1);
  iotl_sink_byte(&k, 0x01);
  iotl_sink_byte(&k, alg);
  if (kid) {
    iotl_sink_byte(&k, 0xa1);
    iotl_sink_byte(&k, 0x04);
    iotl_cbor_head(&k, 2, kid_len);
    iotl_sink_put(&k, (const uint8_t *)kid, kid_len);
  } else {
    iotl_sink_byte(&k, 0xa0);
  }
  iotl_cbor_head(&k, 2, plen);
  if (at != head_cose) memmove(out, out + at - head_cose, head_cose + plen);
  out[head_cose + plen] = 0x58;
  out[head_cose + plen + 1] = 0x40;
  memcpy(out + head_cose + plen + 2, sig, 64);
  *out_len = total;
  return IOTL_OK;
}

int iotl_cose_sign1(const iotl_signer *s, const char *kid, int fully_specified, const uint8_t *payload,
                    size_t payload_len_, uint8_t *out, size_t cap, size_t *out_len) {
  payload_src p = {NULL, 0, 0, NULL, 0};
  if (!payload && payload_len_) return IOTL_ERR_ARG;
  p.bytes = payload;
  p.len = payload_len_;
  return cose(s, kid, fully_specified, &p, out, cap, out_len);
}

/* ------------------------------------------------------------------ device */

/*
 * Nothing is written to d unless everything succeeded: a device whose init failed (its stored
 * counter unreadable, say) must not sign from counter 1 and save that over the stored value.
 * One never initialised is refused by the sign functions (store.save is NULL).
 */
int iotl_device_init(iotl_device *d, const iotl_signer *signer, const iotl_counter_store *store, uint32_t step) {
  iotl_signer sg;
  iotl_counter_store st;
  char did[IOTL_DID_MAX];
  uint64_t last = 0;
  int rc;
  if (!d || !signer || !store || !store->load || !store->save || step == 0) return IOTL_ERR_ARG;
  sg = *signer; /* copies first: signer or store may lie inside d */
  st = *store;
  rc = iotl_did_key(&sg, did, sizeof did);
  if (rc) return rc;
  if (st.load(st.ctx, &last) != 0) return IOTL_ERR_STORAGE;
  if (last > (uint64_t)IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_COUNTER;
  memset(d, 0, sizeof *d);
  d->signer = sg;
  d->store = st;
  d->step = step;
  memcpy(d->did, did, sizeof did);
  d->counter = last;
  d->reserved = last;
  return IOTL_OK;
}

const char *iotl_device_did(const iotl_device *d) {
  return d ? d->did : "";
}

/* The next counter, persisted (with `step - 1` more reserved) before it is handed out. */
static int next_counter(iotl_device *d, uint64_t *next) {
  uint64_t c = d->counter + 1;
  if (c > (uint64_t)IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_COUNTER;
  if (c > d->reserved) {
    uint64_t upto = c - 1 + d->step;
    if (upto > (uint64_t)IOTL_MAX_SAFE_INTEGER) upto = (uint64_t)IOTL_MAX_SAFE_INTEGER;
    if (d->store.save(d->store.ctx, upto) != 0) return IOTL_ERR_STORAGE;
    d->reserved = upto;
  }
  *next = c;
  return IOTL_OK;
}

int iotl_device_sign_jws(iotl_device *d, const iotl_reading *r, uint64_t ts, char *out, size_t cap, size_t *out_len,
                         uint64_t *counter_out) {
  payload_src p = {NULL, 0, 0, NULL, 0};
  uint64_t c;
  int rc;
  if (!d || !d->store.save || !r || !r->buf || r->encoding != IOTL_JSON) return IOTL_ERR_ARG;
  if (ts != IOTL_NO_TS && ts > (uint64_t)IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_ARG;
  rc = next_counter(d, &c);
  if (rc) return rc;
  p.reading = r;
  p.counter = c;
  p.ts = ts;
  rc = jws(&d->signer, d->did, &p, out, cap, out_len);
  if (rc) return rc;
  d->counter = c;
  if (counter_out) *counter_out = c;
  return IOTL_OK;
}

int iotl_device_sign_cose(iotl_device *d, const iotl_reading *r, uint64_t ts, uint8_t *out, size_t cap,
                          size_t *out_len, uint64_t *counter_out) {
  payload_src p = {NULL, 0, 0, NULL, 0};
  uint64_t c;
  int rc;
  if (!d || !d->store.save || !r || !r->buf) return IOTL_ERR_ARG;
  if (ts != IOTL_NO_TS && ts > (uint64_t)IOTL_MAX_SAFE_INTEGER) return IOTL_ERR_ARG;
  rc = next_counter(d, &c);
  if (rc) return rc;
  p.reading = r;
  p.counter = c;
  p.ts = ts;
  rc = cose(&d->signer, d->did, 0, &p, out, cap, out_len);
  if (rc) return rc;
  d->counter = c;
  if (counter_out) *counter_out = c;
  return IOTL_OK;
}
