(function () {
    var NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

    // A validator that returns a message (Node-RED 3.1+ shows it) or false on older editors.
    // A property missing from an older flow is valid: the runtime uses its default.
    function wholeNumber(min, max, key) {
        return function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
            if (value === undefined) {
                return true;
            }
            var text = String(value === null ? "" : value).trim();
            if (/^\d+$/.test(text) && Number(text) >= min && Number(text) <= max) {
                return true;
            }
            return typeof this._ === "function" ? this._(key) : false;
        };
    }

    RED.nodes.registerType("iot-ledger-config", {
        category: "config",
        defaults: {
            ledgerName: {
                value: "coldroom",
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    if (NAME_PATTERN.test(String(value))) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-config.errors.ledgerName") : false;
                }
            },
            dir: { value: "", required: false },
            blockRecords: {
                value: 1000,
                required: true,
                validate: wholeNumber(1, Number.MAX_SAFE_INTEGER, "iot-ledger-config.errors.blockRecords")
            },
            blockSeconds: {
                value: 60,
                required: true,
                validate: wholeNumber(1, 2000000, "iot-ledger-config.errors.blockSeconds")
            },
            witnesses: { value: "" },
            quorum: {
                value: "",
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    var text = String(value === undefined || value === null ? "" : value).trim();
                    var n = String(this.witnesses || "").split("\n").filter(function (l) { return l.trim() && l.trim()[0] !== "#"; }).length;
                    if (text === "" || (/^\d+$/.test(text) && Number(text) <= n)) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-config.errors.quorum") : false;
                }
            },
            publishTiles: { value: false },
            tilesDir: { value: "", required: false }
        },
        icon: "iot-ledger-config.svg",
        paletteLabel: function () {
            return this._("iot-ledger-config.paletteLabel");
        },
        label: function () {
            return this.ledgerName || this._("iot-ledger-config.paletteLabel");
        },
        oneditprepare: function () {
            var node = this;
            // Properties missing from older flows: show the defaults the runtime uses.
            if (node.blockRecords === undefined) {
                $("#node-config-input-blockRecords").val(1000);
            }
            if (node.blockSeconds === undefined) {
                $("#node-config-input-blockSeconds").val(60);
            }
            $("#node-config-input-blockRecords").spinner({ min: 1 });
            $("#node-config-input-blockSeconds").spinner({ min: 1, max: 2000000 });
            $("#node-config-input-ledgerName").on("change keyup", function () {
                $("#iot-ledger-config-tiles-name").text($(this).val());
            }).trigger("change");

            var $message = $("#iot-ledger-config-message");
            var $details = $("#iot-ledger-config-details");

            function showMessage(icon, text) {
                $message.empty()
                    .append($("<i>").addClass("fa " + icon))
                    .append(" ")
                    .append($("<span>").text(text))
                    .show();
            }

            $details.find("button[data-copy]").on("click", function (event) {
                event.preventDefault();
                var value = $("#" + $(this).attr("data-copy")).val();
                if (value) {
                    RED.clipboard.copyText(value, $(this), "clipboard.copyMessageValue");
                }
            });

            $details.hide();
            showMessage("fa-spinner fa-spin", node._("iot-ledger-config.info.loading"));
            $.getJSON("iot-ledger/ledgers/" + encodeURIComponent(node.id))
                .done(function (info) {
                    if (!info || info.deployed === false) {
                        showMessage("fa-info-circle", node._("iot-ledger-config.info.notDeployed"));
                        return;
                    }
                    $message.hide();
                    $("#iot-ledger-config-gatewayDid").val(info.gatewayDid || "");
                    $("#iot-ledger-config-verifierKey").val(info.verifierKey || "");
                    $("#iot-ledger-config-size").val(typeof info.size === "number" ? info.size.toLocaleString() : "");
                    $("#iot-ledger-config-blocks").val(typeof info.blocks === "number" ? info.blocks.toLocaleString() : "");
                    $("#iot-ledger-config-devices").val(typeof info.devices === "number" ? info.devices.toLocaleString() : "");
                    $details.show();
                })
                .fail(function (xhr) {
                    if (xhr.status === 404) {
                        showMessage("fa-info-circle", node._("iot-ledger-config.info.notDeployed"));
                        return;
                    }
                    var body = xhr.responseJSON || {};
                    var error = body.error || xhr.statusText || String(xhr.status);
                    if (body.code) {
                        error = body.code + ": " + error;
                    }
                    showMessage("fa-exclamation-triangle", node._("iot-ledger-config.info.error", { error: error }));
                });
        }
    });
})();
