/*
 * ESP-IDF example: a cold-room sensor that signs each reading with the iot-ledger device
 * library (ES256 through mbedTLS) and publishes it with esp-mqtt on
 * coldroom/<name>/reading, where the cold-room flow's Verify node checks it.
 *
 * NOT COMPILED in the project's CI (no ESP32 toolchain there); it uses only the library
 * API that the tested Linux example (examples/linux/device.c) uses. See README.md.
 *
 * Copyright 2026 the node-red-contrib-iot-ledger authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>
#include <sys/time.h>

#include "esp_log.h"
#include "esp_random.h"
#include "esp_sntp.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/task.h"
#include "mqtt_client.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "protocol_examples_common.h"

#include "iot_ledger.h"

#define SENSOR_NAME "freezer-1"
#define BROKER_URI "mqtt://192.168.1.10:1883" /* the gateway's broker */
#define READING_PERIOD_MS 60000

static const char *TAG = "iotl";

/* ------------------------------------------------------------ counter in NVS */

static int nvs_load(void *ctx, uint64_t *value) {
  nvs_handle_t h = (nvs_handle_t)(uintptr_t)ctx;
  esp_err_t err = nvs_get_u64(h, "counter", value);
  if (err == ESP_ERR_NVS_NOT_FOUND) {
    *value = 0;
    return 0;
  }
  return err == ESP_OK ? 0 : -1;
}

static int nvs_save(void *ctx, uint64_t value) {
  nvs_handle_t h = (nvs_handle_t)(uintptr_t)ctx;
  if (nvs_set_u64(h, "counter", value) != ESP_OK) return -1;
  return nvs_commit(h) == ESP_OK ? 0 : -1; /* durable before the counter is used */
}

/* ------------------------------------------------------------ key, made on first boot */

static int hw_random(void *ctx, unsigned char *out, size_t len) {
  (void)ctx;
  esp_fill_random(out, len);
  return 0;
}

static iotl_es256_key key;
static iotl_signer signer;
static iotl_device device;

static esp_err_t load_or_make_key(nvs_handle_t h) {
  uint8_t d[32];
  size_t len = sizeof d;
  esp_err_t err = ESP_OK;
  if (nvs_get_blob(h, "key", d, &len) == ESP_OK && len == 32) {
    if (iotl_signer_es256(&signer, &key, d, hw_random, NULL) != IOTL_OK) err = ESP_FAIL;
  } else {
    do {
      esp_fill_random(d, sizeof d); /* a random scalar is out of range with probability ~2^-32 */
    } while (iotl_signer_es256(&signer, &key, d, hw_random, NULL) == IOTL_ERR_ARG);
    if (nvs_set_blob(h, "key", d, sizeof d) != ESP_OK || nvs_commit(h) != ESP_OK) err = ESP_FAIL;
  }
  memset(d, 0, sizeof d); /* the signer keeps its own copy */
  return err;
}

/* ------------------------------------------------------------ the broker connection */

static EventGroupHandle_t mqtt_state;
#define MQTT_CONNECTED BIT0

static void on_mqtt_event(void *arg, esp_event_base_t base, int32_t id, void *data) {
  (void)arg;
  (void)base;
  (void)data;
  if (id == MQTT_EVENT_CONNECTED) xEventGroupSetBits(mqtt_state, MQTT_CONNECTED);
  else if (id == MQTT_EVENT_DISCONNECTED) xEventGroupClearBits(mqtt_state, MQTT_CONNECTED);
}

/* ------------------------------------------------------------ readings */

static uint64_t epoch_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static int read_temperature_tenths(void) {
  return -214; /* replace with your sensor: -21.4 °C */
}

void app_main(void) {
  static uint8_t fields[128];
  static char jws[512];
  nvs_handle_t h;
  iotl_counter_store store;
  esp_mqtt_client_handle_t mqtt;
  esp_mqtt_client_config_t cfg = {.broker.address.uri = BROKER_URI};
  int rc;

  ESP_ERROR_CHECK(nvs_flash_init()); /* use nvs_flash_secure_init() with flash encryption in production */
  ESP_ERROR_CHECK(nvs_open("iot-ledger", NVS_READWRITE, &h));
  /* Wi-Fi first: until the RF subsystem runs, esp_fill_random is only pseudo-random (ESP-IDF
   * "Random Number Generation"), and a first boot makes the device's key from it. */
  ESP_ERROR_CHECK(esp_netif_init());
  ESP_ERROR_CHECK(esp_event_loop_create_default());
  ESP_ERROR_CHECK(example_connect());
  ESP_ERROR_CHECK(load_or_make_key(h));
  store.load = nvs_load;
  store.save = nvs_save;
  store.ctx = (void *)(uintptr_t)h;
  rc = iotl_device_init(&device, &signer, &store, 1);
  if (rc != IOTL_OK) {
    ESP_LOGE(TAG, "device: %s", iotl_strerror(rc));
    return;
  }
  /* Enrol this did:key with the Enrol node: {"did": "<this>", "name": "freezer-1"} */
  ESP_LOGI(TAG, "device did:key %s", iotl_device_did(&device));

  esp_sntp_setoperatingmode(SNTP_OPMODE_POLL);
  esp_sntp_setservername(0, "pool.ntp.org");
  esp_sntp_init();
  while (sntp_get_sync_status() != SNTP_SYNC_STATUS_COMPLETED) vTaskDelay(pdMS_TO_TICKS(500));

  mqtt_state = xEventGroupCreate();
  mqtt = esp_mqtt_client_init(&cfg);
  ESP_ERROR_CHECK(esp_mqtt_client_register_event(mqtt, ESP_EVENT_ANY_ID, on_mqtt_event, NULL));
  ESP_ERROR_CHECK(esp_mqtt_client_start(mqtt));

  for (;;) {
    iotl_reading r;
    size_t len = 0;
    uint64_t counter = 0;
    /* Sign only once connected: esp_mqtt_client_publish refuses while the client is not, and the
     * reading would be lost (its counter skipped). */
    xEventGroupWaitBits(mqtt_state, MQTT_CONNECTED, pdFALSE, pdTRUE, portMAX_DELAY);
    rc = iotl_reading_init(&r, IOTL_JSON, fields, sizeof fields);
    if (rc == IOTL_OK) rc = iotl_reading_decimal(&r, "temperature", read_temperature_tenths(), 1);
    if (rc == IOTL_OK) rc = iotl_device_sign_jws(&device, &r, epoch_ms(), jws, sizeof jws, &len, &counter);
    if (rc == IOTL_OK) {
      if (esp_mqtt_client_publish(mqtt, "coldroom/" SENSOR_NAME "/reading", jws, (int)len, 1, 0) < 0)
        ESP_LOGW(TAG, "reading #%llu not sent (connection lost)", (unsigned long long)counter);
      else
        ESP_LOGI(TAG, "reading #%llu signed and sent", (unsigned long long)counter);
    } else {
      ESP_LOGE(TAG, "sign: %s", iotl_strerror(rc));
    }
    vTaskDelay(pdMS_TO_TICKS(READING_PERIOD_MS));
  }
}
