/*
 * iot-ledger device signing library: internal helpers shared by the sources.
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef IOTL_INTERNAL_H
#define IOTL_INTERNAL_H

#include "iot_ledger.h"

/*
 * An output that never writes past cap but keeps counting, so one pass tells the size
 * needed. In base64url mode bytes go in and unpadded base64url text comes out.
 */
typedef struct {
  uint8_t *buf; /* NULL: count only */
  size_t cap;
  size_t len;
  int b64;
  uint32_t acc;
  int nacc;
} iotl_sink;

void iotl_sink_init(iotl_sink *k, uint8_t *buf, size_t cap, int b64);
void iotl_sink_put(iotl_sink *k, const uint8_t *p, size_t n);
void iotl_sink_byte(iotl_sink *k, uint8_t b);
void iotl_sink_str(iotl_sink *k, const char *s);
/* Writes the last base64url characters; call once at the end in base64url mode. */
void iotl_sink_flush(iotl_sink *k);
int iotl_sink_ok(const iotl_sink *k);

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
int iotl_utf8_valid(const uint8_t *p, size_t n);
/* A JSON string as JSON.stringify (and RFC 8785) writes it. */
void iotl_json_string(iotl_sink *k, const uint8_t *p, size_t n);
/* A finite double as JavaScript's Number.prototype.toString writes it. */
int iotl_json_double(iotl_sink *k, double v);
void iotl_json_int(iotl_sink *k, int64_t v);
/* mantissa * 10^-decimals in plain decimal notation without trailing zeros. */
void iotl_json_decimal(iotl_sink *k, int64_t mantissa, unsigned decimals);

/* CBOR head: major type and argument in the shortest form. */
void iotl_cbor_head(iotl_sink *k, unsigned major, uint64_t arg);
void iotl_cbor_int(iotl_sink *k, int64_t v);
/* A number as deterministic CBOR: safe integers as integers, else the shortest exact float. */
void iotl_cbor_double(iotl_sink *k, double v);
size_t iotl_cbor_head_len(uint64_t arg);

/* base58btc (Bitcoin alphabet) of up to 40 bytes. */
int iotl_base58(const uint8_t *p, size_t n, char *out, size_t cap, size_t *out_len);

/* The payload of r with counter and ts merged in, written to k. */
void iotl_reading_emit(const iotl_reading *r, uint64_t counter, uint64_t ts, iotl_sink *k);
int iotl_reading_check_stamp(uint64_t counter, uint64_t ts);

#endif
