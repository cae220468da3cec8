// The editor globals this pack uses (Node-RED's RED and its jQuery), declared as narrowly as
// the editor modules need them. Node-RED ships no types for its editor API.

type I18nArgs = Record<string, unknown>;
type Translate = (key: string, args?: I18nArgs) => string;

/** A property validator: true, false, or (Node-RED 3.1+) a message saying what is wrong. */
type Validator<N> = (this: N, value: unknown, opt?: unknown) => boolean | string;

interface PropertyDef<N> {
  value: unknown;
  type?: string;
  required?: boolean;
  validate?: Validator<N>;
}

/** What `this` is inside a node definition's functions: the node's properties and its translator. */
interface EditorNode {
  id: string;
  _: Translate;
  credentials?: Record<string, unknown> & { has_jwk?: boolean };
}

interface NodeTypeDef<P> {
  category: string;
  color?: string;
  defaults: { [K in keyof P]?: PropertyDef<EditorNode & P> };
  credentials?: Record<string, { type: 'text' | 'password' }>;
  inputs?: number;
  outputs?: number;
  icon: string;
  paletteLabel?: (this: EditorNode & P) => string;
  label?: (this: EditorNode & P) => string;
  labelStyle?: (this: EditorNode & P) => string;
  inputLabels?: (this: EditorNode & P, index: number) => string;
  outputLabels?: (this: EditorNode & P, index: number) => string;
  oneditprepare?: (this: EditorNode & P) => void;
  oneditsave?: (this: EditorNode & P) => void;
  oneditcancel?: (this: EditorNode & P) => void;
  oneditresize?: (this: EditorNode & P, size: { width: number; height: number }) => void;
}

interface EditorTabs {
  addTab(tab: { id: string; label: string; iconClass?: string }): void;
  activateTab(id: string): void;
}

interface CodeEditor {
  getValue(): string;
  setValue(text: string, cursor?: number): void;
  getSession(): { on(event: string, fn: () => void): void };
  resize(): void;
  destroy(): void;
}

interface StackSection {
  title: JQuery;
  content: JQuery;
}

interface CommsMessageHandler {
  (topic: string, data: unknown): void;
}

declare const RED: {
  _: Translate;
  nodes: {
    registerType<P>(type: string, def: NodeTypeDef<P>): void;
  };
  plugins: {
    registerPlugin(id: string, def: { onadd: (this: { _?: Translate }) => void }): void;
  };
  validators: { number(blankAllowed?: boolean): Validator<unknown> };
  clipboard: { copyText(text: string, element: JQuery, message: string): void };
  popover: { tooltip(element: JQuery, text: string): void };
  stack: { create(opts: { container: JQuery }): { add(opts: { title: string; collapsible: boolean; expanded: boolean }): StackSection } };
  tabs: { create(opts: { id: string; onchange: (tab: { id: string }) => void }): EditorTabs };
  editor: { createEditor(opts: { id: string; mode: string; value?: string }): CodeEditor };
  tray: { resize(): void };
  events: { on(event: string, fn: (...args: unknown[]) => void): void };
  sidebar: {
    addTab(tab: { id: string; label: string; name: string; iconClass: string; content: JQuery; enableOnEdit: boolean; onchange: () => void }): void;
  };
  comms: { subscribe(topic: string, fn: CommsMessageHandler): void; unsubscribe(topic: string, fn: CommsMessageHandler): void };
};

/** The part of a jQuery XHR the pack reads on failure. */
interface JQueryXhr {
  status: number;
  statusText: string;
  responseJSON?: { error?: string; code?: string };
}

interface JQueryPromise<T> {
  done(fn: (data: T) => void): JQueryPromise<T>;
  fail(fn: (xhr: JQueryXhr) => void): JQueryPromise<T>;
  always(fn: () => void): JQueryPromise<T>;
}

interface JQuery {
  length: number;
  [index: number]: HTMLElement;
  val(): string;
  val(value: string | number): JQuery;
  text(): string;
  text(value: string | number): JQuery;
  attr(name: string): string | undefined;
  attr(name: string, value: string | number): JQuery;
  prop(name: string): boolean;
  prop(name: string, value: boolean | string): JQuery;
  data(name: string): unknown;
  data(name: string, value: unknown): JQuery;
  css(name: string, value: string | number): JQuery;
  on(events: string, handler: (this: HTMLInputElement, event: Event) => void): JQuery;
  trigger(event: string): JQuery;
  append(...content: (JQuery | string | Node)[]): JQuery;
  appendTo(target: JQuery | string): JQuery;
  empty(): JQuery;
  remove(): JQuery;
  find(selector: string): JQuery;
  children(selector?: string): JQuery;
  not(selector: string): JQuery;
  each(fn: (this: HTMLElement, index: number) => void): JQuery;
  is(selector: string): boolean;
  show(): JQuery;
  hide(): JQuery;
  toggle(show?: boolean): JQuery;
  addClass(names: string): JQuery;
  removeClass(names?: string): JQuery;
  toggleClass(names: string, on?: boolean): JQuery;
  width(): number | undefined;
  outerHeight(includeMargin?: boolean): number | undefined;
  spinner(opts: { min?: number; max?: number }): JQuery;
  typedInput(opts: Record<string, unknown>): JQuery;
  editableList(opts: Record<string, unknown>): JQuery;
  editableList(method: 'items'): JQuery;
  editableList(method: 'addItem', data: unknown): JQuery;
  editableList(method: 'empty'): JQuery;
  editableList(method: string, data?: unknown): JQuery;
  i18n(): JQuery;
}

declare const $: {
  (selector: string | HTMLElement | Element): JQuery;
  getJSON<T = unknown>(url: string, data?: Record<string, unknown>): JQueryPromise<T>;
  ajax<T = unknown>(opts: { url: string; type: string; contentType?: string; dataType?: string; data?: string }): JQueryPromise<T>;
  trim(text: string): string;
  extend<T>(deep: boolean, target: T, ...sources: unknown[]): T;
};

/** V8's, which Chromium has too (lib/errors.ts reads it). */
interface ErrorConstructor {
  stackTraceLimit: number;
}

/**
 * lib/encoding/bytes.ts encodes base64 with Node's Buffer in toBase64/fromBase64, which no editor
 * module uses. Declared only so that file type-checks here; scripts/build-editor.js refuses any
 * bundle that still mentions Buffer.
 */
declare const Buffer: {
  from(data: Uint8Array | ArrayBuffer | ArrayBufferLike | string, offsetOrEncoding?: number | string, length?: number): Uint8Array & { toString(encoding?: string): string };
};
