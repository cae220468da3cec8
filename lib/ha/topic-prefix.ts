// Which MQTT topic prefixes the Home Assistant integration may publish under. No Node built-ins:
// the editor checks the config node's topics with it.

/**
 * A topic prefix we may publish under: one or more non-empty levels, no wildcards (`+`, `#`),
 * no NUL, not starting with `$` (reserved for brokers), at most 200 characters.
 */
export function isTopicPrefix(s: unknown): s is string {
  return (
    typeof s === 'string' &&
    s.length > 0 &&
    s.length <= 200 &&
    !/[+#]/.test(s) &&
    !s.includes('\u0000') &&
    !s.startsWith('$') &&
    s.split('/').every((level) => level.length > 0)
  );
}
