/*
 * A counter store for Linux: the last reserved counter as decimal text in a file,
 * replaced atomically (write a temporary file, fsync, rename, fsync the directory).
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef IOTL_FILE_COUNTER_H
#define IOTL_FILE_COUNTER_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iot_ledger.h"

typedef struct {
  const char *path;
} file_counter;

static inline int file_counter_load(void *ctx, uint64_t *value) {
  const file_counter *fc = (const file_counter *)ctx;
  char text[32] = {0};
  char *end;
  ssize_t n;
  int fd = open(fc->path, O_RDONLY);
  if (fd < 0) {
    if (errno != ENOENT) return -1;
    *value = 0; /* never saved: a new device */
    return 0;
  }
  n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return -1;
  /* Only what file_counter_save writes: decimal digits and a newline. strtoull alone would read
   * "12abc" as 12 and "-1" as the largest counter, a damaged file as some other counter. */
  if (text[0] < '0' || text[0] > '9') return -1;
  errno = 0;
  *value = strtoull(text, &end, 10);
  if (errno || (*end != '\0' && strcmp(end, "\n") != 0)) return -1;
  return 0;
}

static inline int file_counter_save(void *ctx, uint64_t value) {
  const file_counter *fc = (const file_counter *)ctx;
  char tmp[4096], dir[4096], text[32];
  const char *slash;
  int fd, len, rc = 0;
  if (snprintf(tmp, sizeof tmp, "%s.tmp", fc->path) >= (int)sizeof tmp) return -1;
  len = snprintf(text, sizeof text, "%llu\n", (unsigned long long)value);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  if (write(fd, text, (size_t)len) != len || fsync(fd) != 0) rc = -1;
  if (close(fd) != 0) rc = -1;
  if (rc == 0 && rename(tmp, fc->path) != 0) rc = -1;
  if (rc != 0) return rc;
  slash = strrchr(fc->path, '/');
  if (slash) {
    size_t n = (size_t)(slash - fc->path);
    if (n == 0) n = 1;
    if (n >= sizeof dir) return -1;
    memcpy(dir, fc->path, n);
    dir[n] = 0;
  } else {
    strcpy(dir, ".");
  }
  fd = open(dir, O_RDONLY);
  if (fd < 0) return -1;
  if (fsync(fd) != 0) rc = -1;
  close(fd);
  return rc;
}

static inline iotl_counter_store file_counter_store(file_counter *fc) {
  iotl_counter_store s;
  s.load = file_counter_load;
  s.save = file_counter_save;
  s.ctx = fc;
  return s;
}

#endif
