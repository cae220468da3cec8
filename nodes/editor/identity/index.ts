(function () {
    var SUPPORTED = { "OKP/Ed25519": "Ed25519", "EC/P-256": "ES256" };
    var BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    function algOf(jwk) {
        return SUPPORTED[jwk.kty + "/" + jwk.crv];
    }

    // The only fields kept: the key's curve and coordinates (and "d" for the private key).
    function publicPart(jwk) {
        var pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
        if (jwk.y !== undefined) {
            pub.y = jwk.y;
        }
        return pub;
    }

    function privatePart(jwk) {
        var priv = publicPart(jwk);
        priv.d = jwk.d;
        return priv;
    }

    // Reads pasted text as a private JWK: { jwk, alg } or { error: <message key> }.
    function parsePrivateJwk(text) {
        var jwk;
        try {
            jwk = JSON.parse(text);
        } catch {
            jwk = null;
        }
        if (!jwk || typeof jwk !== "object" || Array.isArray(jwk)) {
            return { error: "iot-ledger-identity.errors.notJson" };
        }
        var alg = algOf(jwk);
        if (!alg) {
            return { error: "iot-ledger-identity.errors.unsupported" };
        }
        if (typeof jwk.d !== "string" || jwk.d === "") {
            return { error: "iot-ledger-identity.errors.noPrivate" };
        }
        return { jwk: privatePart(jwk), alg: alg };
    }

    function fromBase64Url(text) {
        if (typeof text !== "string" || !/^[A-Za-z0-9_-]+$/.test(text)) {
            return null;
        }
        var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
        while (b64.length % 4) {
            b64 += "=";
        }
        var binary;
        try {
            binary = window.atob(b64);
        } catch {
            return null;
        }
        var bytes = [];
        for (var i = 0; i < binary.length; i++) {
            bytes.push(binary.charCodeAt(i));
        }
        return bytes;
    }

    function toBase58(bytes) {
        var digits = [0];
        for (var i = 0; i < bytes.length; i++) {
            var carry = bytes[i];
            for (var j = 0; j < digits.length; j++) {
                carry += digits[j] * 256;
                digits[j] = carry % 58;
                carry = Math.floor(carry / 58);
            }
            while (carry > 0) {
                digits.push(carry % 58);
                carry = Math.floor(carry / 58);
            }
        }
        var out = "";
        for (var k = 0; k < bytes.length && bytes[k] === 0; k++) {
            out += "1";
        }
        for (var m = digits.length - 1; m >= 0; m--) {
            out += BASE58[digits[m]];
        }
        return out;
    }

    // did:key of a JWK, computed here only when the runtime's answer cannot be awaited (on Done
    // right after a paste). Multicodec ed25519-pub 0xed01, p256-pub 0x8024 with the compressed point.
    function localDid(jwk) {
        var x = fromBase64Url(jwk.x);
        if (!x || x.length !== 32) {
            return null;
        }
        if (algOf(jwk) === "Ed25519") {
            return "did:key:z" + toBase58([0xed, 0x01].concat(x));
        }
        var y = fromBase64Url(jwk.y);
        if (!y || y.length !== 32) {
            return null;
        }
        return "did:key:z" + toBase58([0x80, 0x24, y[31] & 1 ? 3 : 2].concat(x));
    }

    function importParams(alg) {
        return alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "Ed25519" };
    }

    function signParams(alg) {
        return alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
    }

    function subtleCrypto() {
        return window.isSecureContext && window.crypto && window.crypto.subtle ? window.crypto.subtle : null;
    }

    // Checks that "d" belongs to x/y. Resolves to true or false, or to null when this browser
    // cannot tell (no WebCrypto on this page, or no support for the curve).
    function keyPairMatches(jwk, alg) {
        var subtle = subtleCrypto();
        if (!subtle) {
            return Promise.resolve(null);
        }
        var data = new Uint8Array([105, 111, 116, 45, 108, 101, 100, 103, 101, 114]);
        return Promise.resolve()
            .then(function () {
                return subtle.importKey("jwk", publicPart(jwk), importParams(alg), false, ["verify"]);
            })
            .then(function (publicKey) {
                // The curve is supported: a private key it refuses (DataError) does not match.
                return subtle.importKey("jwk", privatePart(jwk), importParams(alg), false, ["sign"]).then(function (privateKey) {
                    return subtle.sign(signParams(alg), privateKey, data).then(function (signature) {
                        return subtle.verify(signParams(alg), publicKey, signature, data);
                    });
                }, function () {
                    return false;
                });
            }, function () {
                return null;
            })
            .then(function (ok) {
                return ok === null ? null : ok === true;
            }, function () {
                return null;
            });
    }

    function shortDid(did) {
        var id = String(did).replace(/^did:key:/, "");
        return id.length > 14 ? id.slice(0, 6) + "\u2026" + id.slice(-6) : id;
    }

    RED.nodes.registerType("iot-ledger-identity", {
        category: "config",
        defaults: {
            name: { value: "" },
            alg: { value: "Ed25519", required: true, validate: function (value) { return value === undefined || /^(Ed25519|ES256)$/.test(value); } },
            did: {
                value: "",
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    if (/^did:key:z[1-9A-HJ-NP-Za-km-z]+$/.test(String(value))) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-identity.errors.did") : false;
                }
            }
        },
        credentials: {
            jwk: { type: "password" }
        },
        icon: "iot-ledger-identity.svg",
        paletteLabel: function () {
            return this._("iot-ledger-identity.paletteLabel");
        },
        label: function () {
            return this.name || (this.did ? shortDid(this.did) : this._("iot-ledger-identity.label.default"));
        },
        oneditprepare: function () {
            var node = this;
            var $alg = $("#node-config-input-alg");
            var $did = $("#node-config-input-did");
            var $jwk = $("#node-config-input-jwk");
            var $generate = $("#iot-ledger-identity-generate");
            var $message = $("#iot-ledger-identity-message");
            var $replace = $("#iot-ledger-identity-replace");
            var hasKey = !!(node.credentials && node.credentials.has_jwk);
            // What the identity held when the dialog opened, the last key this dialog accepted and
            // the last text it refused; oneditsave uses them to keep the key and the did in step.
            var state = { hasKey: hasKey, did: node.did || "", accepted: null, refused: null };
            var pasteTimer = null;
            var checking = 0;

            if (!$alg.val()) {
                $alg.val("Ed25519");
            }

            function showMessage(kind, text) {
                var icon = { ok: "fa-check", info: "fa-info-circle", busy: "fa-spinner fa-spin", error: "fa-exclamation-triangle" }[kind];
                $message.empty()
                    .append($("<i>").addClass("fa " + icon))
                    .append(" ")
                    .append($("<span>").text(text))
                    .show();
            }

            function clearMessage() {
                $message.empty().hide();
            }

            // Only a key the identity already had when the dialog opened is replaced: a key generated
            // (or pasted) in this dialog is not kept anywhere until the dialog's own button is pressed.
            function updateReplaceWarning() {
                $replace.toggle(state.hasKey || !!state.did);
            }

            // The dialog's confirm button: "Add" for a new config node, "Update" for an existing one.
            function confirmLabel() {
                var text = $.trim($("#node-config-dialog-ok").text());
                return text || node._("iot-ledger-identity.label.confirm");
            }

            function setDid(did) {
                $did.val(did).trigger("change");
            }

            // Sends only the public part to the runtime, which answers with the did:key.
            function lookupDid(pub) {
                return new Promise(function (resolve, reject) {
                    $.ajax({
                        url: "iot-ledger/did",
                        type: "POST",
                        contentType: "application/json",
                        dataType: "json",
                        data: JSON.stringify(pub)
                    }).done(function (res) {
                        if (res && typeof res.did === "string") {
                            resolve(res);
                        } else {
                            reject(new Error(node._("iot-ledger-identity.errors.didFailed", { error: "no did" })));
                        }
                    }).fail(function (xhr) {
                        if (xhr.status === 404 && !(xhr.responseJSON && xhr.responseJSON.error)) {
                            reject(new Error(node._("iot-ledger-identity.errors.noEndpoint")));
                            return;
                        }
                        var body = xhr.responseJSON || {};
                        var error = body.error || xhr.statusText || String(xhr.status);
                        reject(new Error(node._("iot-ledger-identity.errors.didFailed", { error: error })));
                    });
                });
            }

            function acceptKey(jwk, alg, infoKey) {
                return lookupDid(publicPart(jwk)).then(function (res) {
                    var text = JSON.stringify(privatePart(jwk));
                    state.accepted = text;
                    $jwk.val(text);
                    $alg.val(res.alg === "ES256" || res.alg === "Ed25519" ? res.alg : alg);
                    setDid(res.did);
                    showMessage("ok", node._(infoKey, { alg: $alg.find("option:selected").text(), button: confirmLabel() }));
                });
            }

            $generate.on("click", function (event) {
                event.preventDefault();
                var alg = $alg.val() === "ES256" ? "ES256" : "Ed25519";
                var subtle = subtleCrypto();
                if (!subtle) {
                    showMessage("error", node._("iot-ledger-identity.errors.noWebCrypto"));
                    return;
                }
                $generate.prop("disabled", true);
                checking++; // a paste still being checked must not overwrite the new key
                showMessage("busy", node._("iot-ledger-identity.info.working"));
                Promise.resolve()
                    .then(function () {
                        return subtle.generateKey(importParams(alg), true, ["sign", "verify"]);
                    })
                    .then(function (pair) {
                        return subtle.exportKey("jwk", pair.privateKey);
                    })
                    .then(function (jwk) {
                        return acceptKey(jwk, alg, "iot-ledger-identity.info.generated");
                    }, function (err) {
                        var reason = (err && (err.name || err.message)) || String(err);
                        if (alg === "Ed25519") {
                            throw new Error(node._("iot-ledger-identity.errors.noEd25519", { error: reason }));
                        }
                        throw new Error(node._("iot-ledger-identity.errors.generateFailed", { error: reason }));
                    })
                    .catch(function (err) {
                        showMessage("error", err.message);
                    })
                    .then(function () {
                        $generate.prop("disabled", false);
                    });
            });

            // A pasted private JWK (e.g. the file written by `iot-ledger keygen --out`).
            function checkPasted() {
                var text = String($jwk.val() || "").trim();
                if (text === "__PWRD__" || text === state.accepted) {
                    return;
                }
                var run = ++checking;
                if (text === "") {
                    if (hasKey || $did.val()) {
                        setDid("");
                        showMessage("info", node._("iot-ledger-identity.info.cleared"));
                    } else {
                        clearMessage();
                    }
                    return;
                }
                var parsed = parsePrivateJwk(text);
                if (parsed.error) {
                    state.refused = text;
                    showMessage("error", node._(parsed.error));
                    return;
                }
                showMessage("busy", node._("iot-ledger-identity.info.working"));
                keyPairMatches(parsed.jwk, parsed.alg)
                    .then(function (matches) {
                        if (run !== checking) {
                            return;
                        }
                        if (matches === false) {
                            throw new Error(node._("iot-ledger-identity.errors.mismatch"));
                        }
                        return acceptKey(parsed.jwk, parsed.alg, "iot-ledger-identity.info.pasted");
                    })
                    .catch(function (err) {
                        if (run === checking) {
                            state.refused = text;
                            showMessage("error", err.message);
                        }
                    });
            }

            $jwk.data("iot-ledger-identity", state);
            $jwk.on("input change", function () {
                clearTimeout(pasteTimer);
                pasteTimer = setTimeout(checkPasted, 300);
            });
            $did.on("change", updateReplaceWarning);

            clearMessage();
            updateReplaceWarning();
        },
        oneditsave: function () {
            // Keep the key and the did in step. A key pasted just before Done, not checked yet, is
            // kept with a did:key computed here; anything else that was not accepted as a key (a
            // typo, a refused key) leaves the identity as it was.
            var $jwk = $("#node-config-input-jwk");
            var state = $jwk.data("iot-ledger-identity") || {};
            var text = String($jwk.val() || "").trim();
            if (text === "" || text === "__PWRD__" || text === state.accepted) {
                return;
            }
            var parsed = text === state.refused ? { error: true } : parsePrivateJwk(text);
            var did = parsed.error ? null : localDid(parsed.jwk);
            if (did) {
                $jwk.val(JSON.stringify(parsed.jwk));
                $("#node-config-input-alg").val(parsed.alg);
                $("#node-config-input-did").val(did);
                return;
            }
            $jwk.val(state.hasKey ? "__PWRD__" : "");
            $("#node-config-input-did").val(state.did || "");
        }
    });
})();
