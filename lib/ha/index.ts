// Home Assistant through MQTT discovery: topics, discovery configs and entity states as pure
// functions. Runtime-free: no MQTT client and no Node-RED here (nodes/lib/ha-client.ts connects).
export * from './topics';
export * from './discovery';
export * from './state';
