// Home Assistant through MQTT discovery: topics, discovery configs and entity states as pure
// functions. Runtime-free: no MQTT client and no Node-RED here (nodes/lib/ha-connection.ts
// publishes through Node-RED's mqtt-broker config node).
export * from './topics';
export * from './discovery';
export * from './state';
export * from './availability';
export * from './legacy-broker';
