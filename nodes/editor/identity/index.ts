// The Identity config node's editor: generate a key pair in the browser (WebCrypto) or paste a
// private JWK. Keys are read and checked by the runtime's own jwkToKey and keyToDid.
import { keyToDid } from '../../../lib/crypto/didkey';
import { jwkToKey, publicOnly, type Alg, type Jwk } from '../../../lib/crypto/key-bytes';
import { str } from '../shared/validators';

interface IdentityProps {
  name: string;
  alg: string;
  did: string;
}

interface DialogState {
  hasKey: boolean;
  did: string;
  accepted: string | null;
  refused: string | null;
}

type Parsed = { jwk: Jwk; alg: Alg; error?: undefined } | { error: string; jwk?: undefined; alg?: undefined };

const SUPPORTED: Record<string, Alg> = { 'OKP/Ed25519': 'Ed25519', 'EC/P-256': 'ES256' };

function algOf(jwk: Jwk): Alg | undefined {
  return SUPPORTED[jwk.kty + '/' + jwk.crv];
}

// The only fields kept: the key's curve and coordinates (and "d" for the private key).
function publicPart(jwk: Jwk): Jwk {
  const pub: Jwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  if (jwk.y !== undefined) pub.y = jwk.y;
  return pub;
}

function privatePart(jwk: Jwk): Jwk {
  return { ...publicPart(jwk), d: jwk.d };
}

// Reads pasted text as a private JWK: { jwk, alg } or { error: <message key> }.
function parsePrivateJwk(text: string): Parsed {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    jwk = null;
  }
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) return { error: 'iot-ledger-identity.errors.notJson' };
  const alg = algOf(jwk as Jwk);
  if (!alg) return { error: 'iot-ledger-identity.errors.unsupported' };
  if (typeof (jwk as Jwk).d !== 'string' || (jwk as Jwk).d === '') return { error: 'iot-ledger-identity.errors.noPrivate' };
  return { jwk: privatePart(jwk as Jwk), alg };
}

/** The did:key of a private JWK whose "d" matches its x/y, as the runtime computes it; throws otherwise. */
function didOfPrivateJwk(jwk: Jwk): string {
  return keyToDid(publicOnly(jwkToKey(jwk)));
}

function importParams(alg: Alg): EcKeyImportParams | Algorithm {
  return alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' };
}

function subtleCrypto(): SubtleCrypto | null {
  return window.isSecureContext && window.crypto && window.crypto.subtle ? window.crypto.subtle : null;
}

function shortDid(did: string): string {
  const id = String(did).replace(/^did:key:/, '');
  return id.length > 14 ? id.slice(0, 6) + '\u2026' + id.slice(-6) : id;
}

RED.nodes.registerType<IdentityProps>('iot-ledger-identity', {
  category: 'config',
  defaults: {
    name: { value: '' },
    alg: { value: 'Ed25519', required: true, validate: (value) => value === undefined || /^(Ed25519|ES256)$/.test(str(value)) },
    did: {
      value: '',
      required: true,
      // Two parameters: Node-RED reads a message only from such a validator (shared/validators.ts).
      validate(value, _options) {
        if (/^did:key:z[1-9A-HJ-NP-Za-km-z]+$/.test(str(value))) return true;
        return typeof this._ === 'function' ? this._('iot-ledger-identity.errors.did') : false;
      },
    },
  },
  credentials: {
    jwk: { type: 'password' },
  },
  icon: 'iot-ledger-identity.svg',
  paletteLabel() {
    return this._('iot-ledger-identity.paletteLabel');
  },
  label() {
    return this.name || (this.did ? shortDid(this.did) : this._('iot-ledger-identity.label.default'));
  },
  oneditprepare() {
    const node = this;
    const $alg = $('#node-config-input-alg');
    const $did = $('#node-config-input-did');
    const $jwk = $('#node-config-input-jwk');
    const $generate = $('#iot-ledger-identity-generate');
    const $message = $('#iot-ledger-identity-message');
    const $replace = $('#iot-ledger-identity-replace');
    const hasKey = !!(node.credentials && node.credentials.has_jwk);
    // What the identity held when the dialog opened, the last key this dialog accepted and
    // the last text it refused; oneditsave uses them to keep the key and the did in step.
    const state: DialogState = { hasKey, did: node.did || '', accepted: null, refused: null };
    let pasteTimer: ReturnType<typeof setTimeout> | undefined;
    let checking = 0;

    if (!$alg.val()) $alg.val('Ed25519');

    function showMessage(kind: 'ok' | 'info' | 'busy' | 'error', text: string): void {
      const icon = { ok: 'fa-check', info: 'fa-info-circle', busy: 'fa-spinner fa-spin', error: 'fa-exclamation-triangle' }[kind];
      $message
        .empty()
        .append($('<i>').addClass('fa ' + icon))
        .append(' ')
        .append($('<span>').text(text))
        .show();
    }

    function clearMessage(): void {
      $message.empty().hide();
    }

    // Only a key the identity already had when the dialog opened is replaced: a key generated
    // (or pasted) in this dialog is not kept anywhere until the dialog's own button is pressed.
    function updateReplaceWarning(): void {
      $replace.toggle(state.hasKey || !!state.did);
    }

    // The dialog's confirm button: "Add" for a new config node, "Update" for an existing one.
    function confirmLabel(): string {
      const text = $.trim($('#node-config-dialog-ok').text());
      return text || node._('iot-ledger-identity.label.confirm');
    }

    function setDid(did: string): void {
      $did.val(did).trigger('change');
    }

    // Sends only the public part to the runtime, which answers with the did:key.
    function lookupDid(pub: Jwk): Promise<{ did: string; alg?: string }> {
      return new Promise((resolve, reject) => {
        $.ajax<{ did?: unknown; alg?: string }>({
          url: 'iot-ledger/did',
          type: 'POST',
          contentType: 'application/json',
          dataType: 'json',
          data: JSON.stringify(pub),
        })
          .done((res) => {
            if (res && typeof res.did === 'string') resolve({ did: res.did, alg: res.alg });
            else reject(new Error(node._('iot-ledger-identity.errors.didFailed', { error: 'no did' })));
          })
          .fail((xhr) => {
            if (xhr.status === 404 && !(xhr.responseJSON && xhr.responseJSON.error)) {
              reject(new Error(node._('iot-ledger-identity.errors.noEndpoint')));
              return;
            }
            const body = xhr.responseJSON || {};
            const error = body.error || xhr.statusText || String(xhr.status);
            reject(new Error(node._('iot-ledger-identity.errors.didFailed', { error })));
          });
      });
    }

    function acceptKey(jwk: Jwk, alg: Alg, infoKey: string): Promise<void> {
      return lookupDid(publicPart(jwk)).then((res) => {
        const text = JSON.stringify(privatePart(jwk));
        state.accepted = text;
        $jwk.val(text);
        $alg.val(res.alg === 'ES256' || res.alg === 'Ed25519' ? res.alg : alg);
        setDid(res.did);
        showMessage('ok', node._(infoKey, { alg: $alg.find('option:selected').text(), button: confirmLabel() }));
      });
    }

    $generate.on('click', (event) => {
      event.preventDefault();
      const alg: Alg = $alg.val() === 'ES256' ? 'ES256' : 'Ed25519';
      const subtle = subtleCrypto();
      if (!subtle) {
        showMessage('error', node._('iot-ledger-identity.errors.noWebCrypto'));
        return;
      }
      $generate.prop('disabled', true);
      checking++; // a paste still being checked must not overwrite the new key
      showMessage('busy', node._('iot-ledger-identity.info.working'));
      void Promise.resolve()
        .then(() => subtle.generateKey(importParams(alg), true, ['sign', 'verify']) as Promise<CryptoKeyPair>)
        .then((pair) => subtle.exportKey('jwk', pair.privateKey))
        .then(
          (jwk) => acceptKey(jwk as Jwk, alg, 'iot-ledger-identity.info.generated'),
          (err: { name?: string; message?: string }) => {
            const reason = (err && (err.name || err.message)) || 'error';
            if (alg === 'Ed25519') throw new Error(node._('iot-ledger-identity.errors.noEd25519', { error: reason }));
            throw new Error(node._('iot-ledger-identity.errors.generateFailed', { error: reason }));
          },
        )
        .catch((err: Error) => showMessage('error', err.message))
        .then(() => $generate.prop('disabled', false));
    });

    // A pasted private JWK (e.g. the file written by `iot-ledger keygen --out`).
    function checkPasted(): void {
      const text = String($jwk.val() || '').trim();
      if (text === '__PWRD__' || text === state.accepted) return;
      const run = ++checking;
      if (text === '') {
        if (hasKey || $did.val()) {
          setDid('');
          showMessage('info', node._('iot-ledger-identity.info.cleared'));
        } else clearMessage();
        return;
      }
      const parsed = parsePrivateJwk(text);
      if (parsed.error !== undefined) {
        state.refused = text;
        showMessage('error', node._(parsed.error));
        return;
      }
      try {
        didOfPrivateJwk(parsed.jwk);
      } catch (err) {
        state.refused = text;
        const message = (err as Error).message;
        showMessage('error', /does not match/.test(message) ? node._('iot-ledger-identity.errors.mismatch') : message);
        return;
      }
      showMessage('busy', node._('iot-ledger-identity.info.working'));
      acceptKey(parsed.jwk, parsed.alg, 'iot-ledger-identity.info.pasted').catch((err: Error) => {
        if (run === checking) {
          state.refused = text;
          showMessage('error', err.message);
        }
      });
    }

    $jwk.data('iot-ledger-identity', state);
    $jwk.on('input change', () => {
      clearTimeout(pasteTimer);
      pasteTimer = setTimeout(checkPasted, 300);
    });
    $did.on('change', updateReplaceWarning);

    clearMessage();
    updateReplaceWarning();
  },
  oneditsave() {
    // Keep the key and the did in step. A key pasted just before Done, not checked yet, is
    // kept with its did:key computed here; anything else that was not accepted as a key (a
    // typo, a refused key) leaves the identity as it was.
    const $jwk = $('#node-config-input-jwk');
    const state = ($jwk.data('iot-ledger-identity') || {}) as Partial<DialogState>;
    const text = String($jwk.val() || '').trim();
    if (text === '' || text === '__PWRD__' || text === state.accepted) return;
    const parsed: Parsed = text === state.refused ? { error: 'refused' } : parsePrivateJwk(text);
    let did: string | null = null;
    if (parsed.error === undefined) {
      try {
        did = didOfPrivateJwk(parsed.jwk);
      } catch {
        did = null;
      }
    }
    if (did && parsed.alg) {
      $jwk.val(JSON.stringify(parsed.jwk));
      $('#node-config-input-alg').val(parsed.alg);
      $('#node-config-input-did').val(did);
      return;
    }
    $jwk.val(state.hasKey ? '__PWRD__' : '');
    $('#node-config-input-did').val(state.did || '');
  },
});
