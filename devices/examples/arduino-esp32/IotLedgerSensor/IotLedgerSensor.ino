/*
 * Arduino-ESP32 example: a cold-room sensor signing each reading with the iot-ledger
 * device library (ES256 through the mbedTLS in the ESP32 core) and publishing it with
 * PubSubClient on coldroom/<name>/reading.
 *
 * NOT COMPILED in the project's CI (no ESP32 toolchain there); see README.md.
 *
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include <Preferences.h>
#include <PubSubClient.h>
#include <WiFi.h>
#include <esp_random.h>
#include <sys/time.h>

#include "iot_ledger.h"

static const char *WIFI_SSID = "your-ssid";
static const char *WIFI_PASSWORD = "your-password";
static const char *BROKER_HOST = "192.168.1.10"; // the gateway's broker
static const char *TOPIC = "coldroom/freezer-1/reading";

static Preferences prefs;
static WiFiClient net;
static PubSubClient mqtt(net);

static iotl_es256_key key;
static iotl_signer signer;
static iotl_device device;
static uint8_t fields[128];
static char jws[512];

// The counter in NVS through Preferences; putULong64 writes and commits.
static int loadCounter(void *, uint64_t *value) {
  *value = prefs.getULong64("counter", 0);
  return 0;
}

static int saveCounter(void *, uint64_t value) {
  return prefs.putULong64("counter", value) == sizeof(uint64_t) ? 0 : -1;
}

static int hwRandom(void *, unsigned char *out, size_t len) {
  esp_fill_random(out, len);
  return 0;
}

static uint64_t epochMs() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return (uint64_t)tv.tv_sec * 1000u + tv.tv_usec / 1000u;
}

void setup() {
  Serial.begin(115200);
  prefs.begin("iot-ledger", false);
  // Wi-Fi first: until the radio runs, esp_fill_random is only pseudo-random (ESP-IDF
  // "Random Number Generation"), and a first boot makes the device's key from it.
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(250);

  // The key: made on first boot from the hardware RNG and kept in NVS.
  uint8_t d[32];
  if (prefs.getBytes("key", d, sizeof d) != sizeof d) {
    do {
      esp_fill_random(d, sizeof d);
    } while (iotl_signer_es256(&signer, &key, d, hwRandom, nullptr) == IOTL_ERR_ARG);
    if (prefs.putBytes("key", d, sizeof d) != sizeof d) { // else a new key, and did:key, each boot
      memset(d, 0, sizeof d);
      Serial.println("cannot store the key in NVS");
      return;
    }
  } else if (iotl_signer_es256(&signer, &key, d, hwRandom, nullptr) != IOTL_OK) {
    Serial.println("stored key is invalid");
    return;
  }
  memset(d, 0, sizeof d);

  iotl_counter_store store = {loadCounter, saveCounter, nullptr};
  int rc = iotl_device_init(&device, &signer, &store, 1);
  if (rc != IOTL_OK) {
    Serial.printf("device: %s\n", iotl_strerror(rc));
    return;
  }
  Serial.printf("enrol me: {\"did\": \"%s\", \"name\": \"freezer-1\"}\n", iotl_device_did(&device));

  configTime(0, 0, "pool.ntp.org");
  while (time(nullptr) < 1700000000) delay(250); // wait for NTP
  mqtt.setServer(BROKER_HOST, 1883);
  mqtt.setBufferSize(600); // a JWS is about 300 bytes; PubSubClient's default buffer is 256
}

void loop() {
  if (!mqtt.connected() && !mqtt.connect("freezer-1")) {
    delay(2000);
    return;
  }
  mqtt.loop();

  float celsius = -21.4f; // replace with your sensor
  iotl_reading r;
  iotl_reading_init(&r, IOTL_JSON, fields, sizeof fields);
  // Tenths of a degree as a decimal: the gateway reads exactly -21.4.
  iotl_reading_decimal(&r, "temperature", lroundf(celsius * 10), 1);
  size_t len = 0;
  uint64_t counter = 0;
  int rc = iotl_device_sign_jws(&device, &r, epochMs(), jws, sizeof jws, &len, &counter);
  if (rc == IOTL_OK) {
    mqtt.publish(TOPIC, (const uint8_t *)jws, len, false);
    Serial.printf("reading #%llu: %s\n", (unsigned long long)counter, jws);
  } else {
    Serial.printf("sign: %s\n", iotl_strerror(rc));
  }
  delay(60000);
}
