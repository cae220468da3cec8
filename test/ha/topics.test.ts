import * as assert from 'node:assert/strict';
import {
  availabilityTopic,
  contractStateTopic,
  deviceSuffix,
  discoveryTopic,
  firmwareStateTopic,
  haStatusTopic,
  haTopics,
  isTopicPrefix,
  topicId,
} from '../../lib/ha';

const T = haTopics();
const DID = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';

describe('ha: topics', () => {
  it('defaults to homeassistant and iot-ledger; empty settings take the defaults', () => {
    assert.deepEqual(T, { discoveryPrefix: 'homeassistant', baseTopic: 'iot-ledger', statusTopic: 'homeassistant/status' });
    assert.deepEqual(haTopics('', '  '), T);
    assert.deepEqual(haTopics(' ha ', 'site/gw-1'), { discoveryPrefix: 'ha', baseTopic: 'site/gw-1', statusTopic: 'homeassistant/status' });
  });

  it('refuses prefixes MQTT cannot publish under', () => {
    for (const bad of ['a/+/b', 'a/#', '/a', 'a/', 'a//b', '$SYS', 'a\u0000b', 'x'.repeat(201)]) {
      assert.equal(isTopicPrefix(bad), false, bad);
      assert.throws(() => haTopics(bad), /not a usable MQTT topic prefix/);
    }
    assert.equal(isTopicPrefix('homeassistant'), true);
    assert.equal(isTopicPrefix(undefined), false);
  });

  it('names the availability, HA status, state and discovery topics', () => {
    assert.equal(availabilityTopic(T), 'iot-ledger/availability');
    assert.equal(haStatusTopic(T), 'homeassistant/status');
    // HA's birth topic is its own setting, not derived from the discovery prefix.
    assert.equal(haStatusTopic(haTopics('ha-discovery')), 'homeassistant/status');
    assert.equal(haStatusTopic(haTopics('ha', '', 'hass/online-state')), 'hass/online-state');
    assert.throws(() => haTopics('ha', '', 'hass/#'), /not a usable MQTT topic/);
    assert.equal(contractStateTopic(T, 'cold-room-1'), 'iot-ledger/contract/cold-room-1/state');
    assert.equal(contractStateTopic(T, 'freezer.2'), 'iot-ledger/contract/freezer.2/state', 'a contract id is a safe topic level');
    assert.equal(discoveryTopic(T, 'binary_sensor', 'iot-ledger_cold-room-1_violation'), 'homeassistant/binary_sensor/iot-ledger_cold-room-1_violation/config');
    assert.equal(firmwareStateTopic(T, DID), 'iot-ledger/firmware/z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK/state');
    assert.equal(deviceSuffix(DID), 'z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK');
  });

  it('object ids keep [A-Za-z0-9_-] and stay distinct when other characters are replaced', () => {
    assert.equal(topicId('iot-ledger_a_b'), 'iot-ledger_a_b');
    const dotted = topicId('iot-ledger_a.b');
    assert.match(dotted, /^iot-ledger_a_b_[0-9a-f]{8}$/);
    assert.notEqual(dotted, topicId('iot-ledger_a_b'));
    assert.equal(dotted, topicId('iot-ledger_a.b'), 'deterministic');
    assert.match(topicId('a/b+c#'), /^a_b_c__[0-9a-f]{8}$/);
    assert.match(discoveryTopic(T, 'sensor', 'iot-ledger_a.b_value'), /^homeassistant\/sensor\/iot-ledger_a_b_value_[0-9a-f]{8}\/config$/);
  });
});
