import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { validateTerms } from '../../lib/contracts';
import { contractDiscovery, firmwareDevice, firmwareDiscovery, haTopics, origin, type Config } from '../../lib/ha';

const party = keyToDid(generateKey('Ed25519'));
const terms = validateTerms({
  id: 'cold-room-1',
  version: 1,
  title: 'Cold room below -20 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  mkt: { limit: -18, windowSeconds: 86400 },
  parties: [party],
});
const T = haTopics();
const O = origin('1.2.3');
const AVAILABILITY = { availability_topic: 'iot-ledger/availability', payload_available: 'online', payload_not_available: 'offline' };
const DEVICE = { identifiers: ['iot-ledger_cold-room-1'], name: 'Cold room below -20 °C', manufacturer: 'node-red-contrib-iot-ledger', model: 'threshold contract' };

describe('ha: discovery configs', () => {
  it('origin names the package, its version and where to get support', () => {
    assert.deepEqual(O, { name: 'node-red-contrib-iot-ledger', sw_version: '1.2.3', support_url: 'https://github.com/iot-ledger/node-red-contrib-iot-ledger' });
    assert.ok(!('sw_version' in origin()));
  });

  it('a contract is one device with a problem binary_sensor, a value sensor and an MKT sensor', () => {
    const [violation, value, mkt] = contractDiscovery(terms, T, O);
    assert.equal(violation.topic, 'homeassistant/binary_sensor/iot-ledger_cold-room-1_violation/config');
    assert.deepEqual(violation.config, {
      name: 'Violation',
      device_class: 'problem',
      value_template: '{{ value_json.violation }}',
      payload_on: 'ON',
      payload_off: 'OFF',
      json_attributes_topic: 'iot-ledger/contract/cold-room-1/state',
      json_attributes_template: '{{ value_json.attributes | tojson }}',
      unique_id: 'iot-ledger_cold-room-1_violation',
      state_topic: 'iot-ledger/contract/cold-room-1/state',
      ...AVAILABILITY,
      device: DEVICE,
      origin: O,
    });
    assert.equal(value.topic, 'homeassistant/sensor/iot-ledger_cold-room-1_value/config');
    assert.deepEqual(value.config, {
      name: 'Last value',
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
      value_template: '{{ value_json.value }}',
      unique_id: 'iot-ledger_cold-room-1_value',
      state_topic: 'iot-ledger/contract/cold-room-1/state',
      ...AVAILABILITY,
      device: DEVICE,
      origin: O,
    });
    assert.equal(mkt.topic, 'homeassistant/sensor/iot-ledger_cold-room-1_mkt/config');
    const m = mkt.config as Config;
    assert.equal(m.device_class, 'temperature');
    assert.equal(m.unit_of_measurement, '°C');
    assert.equal(m.value_template, '{{ value_json.mkt }}');
    assert.equal(m.unique_id, 'iot-ledger_cold-room-1_mkt');
    assert.deepEqual(m.device, DEVICE);
    // Home Assistant strips (and warns about) entity names that start with the device name.
    for (const d of [violation, value, mkt]) assert.ok(!String((d.config as Config).name).startsWith(terms.title));
    // Configs are plain JSON.
    assert.deepEqual(JSON.parse(JSON.stringify([violation, value, mkt])), [violation, value, mkt]);
  });

  it("units: °C, °F and K spellings become a temperature in HA's spelling; other units are kept without a device class", () => {
    const celsius = contractDiscovery({ ...terms, unit: 'degC', mkt: undefined }, T, O)[1].config as Config;
    assert.equal(celsius.unit_of_measurement, '°C');
    assert.equal(celsius.device_class, 'temperature');
    for (const [unit, ha] of [['°F', '°F'], ['degF', '°F'], ['K', 'K'], ['kelvin', 'K']]) {
      const c = contractDiscovery({ ...terms, unit, mkt: undefined }, T, O)[1].config as Config;
      assert.equal(c.unit_of_measurement, ha, unit);
      assert.equal(c.device_class, 'temperature', unit);
    }
    const humidity = contractDiscovery({ ...terms, unit: '%', mkt: undefined }, T, O)[1].config as Config;
    assert.equal(humidity.unit_of_measurement, '%');
    assert.ok(!('device_class' in humidity));
    const bare = contractDiscovery({ ...terms, unit: undefined, mkt: undefined }, T, O)[1].config as Config;
    assert.ok(!('unit_of_measurement' in bare) && !('device_class' in bare));
    assert.equal(bare.state_class, 'measurement');
  });

  it('without an MKT limit the MKT entity is removed (null config = empty retained payload)', () => {
    const list = contractDiscovery({ ...terms, mkt: undefined }, T, O);
    assert.equal(list.length, 3);
    assert.equal(list[2].topic, 'homeassistant/sensor/iot-ledger_cold-room-1_mkt/config');
    assert.equal(list[2].config, null);
  });

  it('follows the configured prefixes; ids carry the base topic, so two gateways on one broker stay apart', () => {
    const t = haTopics('ha', 'site/gw-1');
    const [violation] = contractDiscovery(terms, t, O);
    const c = violation.config as Config;
    assert.match(String(c.unique_id), /^iot-ledger_site_gw-1_[0-9a-f]{8}_cold-room-1_violation$/);
    assert.equal(violation.topic, `ha/binary_sensor/${String(c.unique_id)}/config`);
    assert.equal(c.state_topic, 'site/gw-1/contract/cold-room-1/state');
    assert.equal(c.availability_topic, 'site/gw-1/availability');
    const other = contractDiscovery(terms, haTopics('ha', 'site/gw-2'), O)[0];
    assert.notEqual((other.config as Config).unique_id, c.unique_id);
    assert.notDeepEqual((other.config as Config).device, c.device);
    const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
    const fw1 = firmwareDiscovery({ did }, t, O).config as Config;
    const fw2 = firmwareDiscovery({ did }, haTopics('ha', 'site/gw-2'), O).config as Config;
    assert.notEqual(fw1.unique_id, fw2.unique_id);
    assert.notDeepEqual(fw1.device, fw2.device);
  });

  it('a device gets a diagnostic update entity of class firmware, under a device of its name, vendor, class and version', () => {
    const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
    const d = firmwareDiscovery({ did, name: 'freezer-1', vendor: 'acme', class: 'thermo-v1', version: '2.4.0' }, T, O);
    assert.equal(d.topic, 'homeassistant/update/iot-ledger_firmware_z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK/config');
    assert.deepEqual(d.config, {
      name: 'Firmware',
      device_class: 'firmware',
      entity_category: 'diagnostic',
      unique_id: 'iot-ledger_firmware_z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
      state_topic: 'iot-ledger/firmware/z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK/state',
      ...AVAILABILITY,
      device: {
        identifiers: ['iot-ledger_device_z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'],
        name: 'freezer-1',
        manufacturer: 'acme',
        model: 'thermo-v1',
        sw_version: '2.4.0',
      },
      origin: O,
    });
    // Without an enrolled name or vendor: a short id, no manufacturer.
    assert.deepEqual(firmwareDevice({ did }, T), { identifiers: ['iot-ledger_device_z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'], name: 'device …EGta2doK' });
  });
});
