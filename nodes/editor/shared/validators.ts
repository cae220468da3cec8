// Property validators shared by the node editors. Each returns true, or a message (Node-RED 3.1+
// shows it) when the node has a translator, else false. Node-RED reads a message as "invalid" only
// from a validator declared with two parameters (value, options): from one of one parameter, any
// truthy answer, a message included, counts as valid. A property missing from an older flow
// (undefined) is valid where the runtime has a default for it.

/** A validator from a test and the message key to show when it fails. */
export function check<N extends EditorNode>(test: (value: unknown, node: N) => boolean, key: string): Validator<N> {
  return function (this: N, value: unknown, _options?: unknown): boolean | string {
    if (test(value, this)) return true;
    return typeof this._ === 'function' ? this._(key) : false;
  };
}

/** A property value as the form holds it: strings and numbers as text, anything else "". */
export function str(value: unknown): string {
  if (typeof value === 'string') return value;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/** The trimmed text of a property value, "" for undefined or null. */
export function textOf(value: unknown): string {
  return str(value).trim();
}

/** A whole number from min to max, or a property missing from an older flow. */
export function wholeNumber<N extends EditorNode>(min: number, max: number, key: string): Validator<N> {
  return check<N>((value) => {
    if (value === undefined) return true;
    const text = textOf(value);
    return /^\d+$/.test(text) && Number(text) >= min && Number(text) <= max;
  }, key);
}

/** One of a fixed set of values, or missing. */
export function oneOf<N extends EditorNode>(values: readonly string[]): Validator<N> {
  return (value: unknown) => value === undefined || (typeof value === 'string' && values.includes(value));
}

/** "fa-info-circle" etc. before a text, in a message element. */
export function showMessage($message: JQuery, icon: string, text: string): void {
  $message
    .empty()
    .append($('<i>').addClass('fa ' + icon))
    .append(' ')
    .append($('<span>').text(text))
    .show();
}

/** The error text of a failed admin request: "CODE: message" when the runtime gave a code. */
export function xhrError(xhr: JQueryXhr): string {
  const body = xhr.responseJSON || {};
  const error = body.error || xhr.statusText || String(xhr.status);
  return body.code ? body.code + ': ' + error : error;
}
