(function () {
    var MODES = ["latest", "index", "range", "device", "type", "time", "proof", "block"];

    RED.nodes.registerType("iot-ledger-query", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            ledger: { value: "", type: "iot-ledger-config", required: true },
            mode: { value: "latest", required: true, validate: function (value) { return value === undefined || MODES.indexOf(value) >= 0; } },
            limit: {
                value: 100,
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    var text = String(value === null ? "" : value).trim();
                    if (value === undefined || (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 10000)) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-query.errors.limit") : false;
                }
            }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-query.svg",
        paletteLabel: function () {
            return this._("iot-ledger-query.paletteLabel");
        },
        label: function () {
            var mode = MODES.indexOf(this.mode) >= 0 ? this.mode : "latest";
            return this.name || this._("iot-ledger-query.label.node", { mode: this._("iot-ledger-query.mode." + mode) });
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            var node = this;
            var $mode = $("#node-input-mode");
            if (!$mode.val()) {
                $mode.val("latest");
            }
            if (node.limit === undefined) {
                $("#node-input-limit").val(100);
            }
            $("#node-input-limit").spinner({ min: 1, max: 10000 });
            $mode.on("change", function () {
                var mode = MODES.indexOf($mode.val()) >= 0 ? $mode.val() : "latest";
                $("#iot-ledger-query-tip").text(node._("iot-ledger-query.tip." + mode));
                // index, proof and block return one item: the limit does not apply.
                $("#iot-ledger-query-limit-row").toggle(["index", "proof", "block"].indexOf(mode) < 0);
            }).trigger("change");
        }
    });
})();
