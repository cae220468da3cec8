// The broker node's will and close message as the HA node checks them, and the mqtt-broker node
// the editor makes from an old flow's own broker settings.
import * as assert from 'node:assert/strict';
import { brokerFromLegacy, hasLegacyBroker, haTopics, isOfflineMessage, missingOfflineMessages } from '../../lib/ha';

const T = haTopics();
const offline = { topic: 'iot-ledger/availability', payload: 'offline', retain: 'true' };

describe('lib/ha: offline messages of the broker node', () => {
  it('accepts offline, retained, on the availability topic (retain as the editor saves it or as a boolean, payload as text or bytes)', () => {
    assert.equal(isOfflineMessage(T, offline), true);
    assert.equal(isOfflineMessage(T, { ...offline, retain: true }), true);
    assert.equal(isOfflineMessage(T, { ...offline, payload: Buffer.from('offline') }), true);
    assert.equal(isOfflineMessage(haTopics(undefined, 'gw-2'), { ...offline, topic: 'gw-2/availability' }), true);
  });

  it('refuses anything else', () => {
    assert.equal(isOfflineMessage(T, undefined), false);
    assert.equal(isOfflineMessage(T, { ...offline, retain: 'false' }), false, 'not retained');
    assert.equal(isOfflineMessage(T, { ...offline, payload: 'Offline' }), false);
    assert.equal(isOfflineMessage(T, { ...offline, topic: 'iot-ledger/status' }), false);
    assert.equal(isOfflineMessage(haTopics(undefined, 'gw-2'), offline), false, "another base topic's availability");
  });

  it('names what is missing', () => {
    assert.deepEqual(missingOfflineMessages(T, offline, offline), []);
    assert.deepEqual(missingOfflineMessages(T, undefined, offline), ['will']);
    assert.deepEqual(missingOfflineMessages(T, offline, { topic: '' }), ['close']);
    assert.deepEqual(missingOfflineMessages(T, undefined, undefined), ['will', 'close']);
  });
});

describe('lib/ha: an old flow\'s broker settings as an mqtt-broker node', () => {
  it('only nodes with a host have settings to convert', () => {
    assert.equal(hasLegacyBroker({ host: 'core-mosquitto' }), true);
    assert.equal(hasLegacyBroker({ host: '  ' }), false);
    assert.equal(hasLegacyBroker({}), false);
  });

  it('keeps host, port, TLS (verifying the certificate) and user, and sets will and close message to offline on the availability topic', () => {
    const b = brokerFromLegacy({ host: ' core-mosquitto ', port: 1884, tls: 'true', username: 'nodered' }, 'gw-2');
    assert.deepEqual([b.broker, b.port, b.usetls, b.verifyservercert, b.user], ['core-mosquitto', '1884', true, true, 'nodered']);
    const topics = haTopics(undefined, 'gw-2');
    assert.equal(isOfflineMessage(topics, { topic: b.willTopic, payload: b.willPayload, retain: b.willRetain }), true);
    assert.equal(isOfflineMessage(topics, { topic: b.closeTopic, payload: b.closePayload, retain: b.closeRetain }), true);
    assert.equal(b.birthTopic, '');
  });

  it('default port by TLS, default base topic', () => {
    assert.equal(brokerFromLegacy({ host: 'h', tls: true }, '').port, '8883');
    assert.equal(brokerFromLegacy({ host: 'h', port: 'x' }, undefined).port, '1883');
    assert.equal(brokerFromLegacy({ host: 'h' }, '').willTopic, 'iot-ledger/availability');
    assert.equal(brokerFromLegacy({ host: 'h' }, '').user, '');
  });
});
