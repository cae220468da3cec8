(function () {
    // setInterval() takes at most 2^31-1 ms: 35791 minutes.
    var MAX_INTERVAL = 35791;

    RED.nodes.registerType("iot-ledger-audit", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            ledger: { value: "", type: "iot-ledger-config", required: true },
            mode: { value: "full", required: true, validate: function (value) { return value === undefined || /^(full|incremental)$/.test(value); } },
            interval: {
                value: 0,
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    var text = String(value === null ? "" : value).trim();
                    if (value === undefined || (/^\d+$/.test(text) && Number(text) <= MAX_INTERVAL)) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-audit.errors.interval") : false;
                }
            }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-audit.svg",
        paletteLabel: function () {
            return this._("iot-ledger-audit.paletteLabel");
        },
        label: function () {
            if (this.name) {
                return this.name;
            }
            var mode = this._(this.mode === "incremental" ? "iot-ledger-audit.mode.incremental" : "iot-ledger-audit.mode.full");
            var interval = Number(this.interval) || 0;
            return interval > 0
                ? this._("iot-ledger-audit.label.nodeInterval", { mode: mode, interval: interval })
                : this._("iot-ledger-audit.label.node", { mode: mode });
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            if (!$("#node-input-mode").val()) {
                $("#node-input-mode").val("full");
            }
            if (this.interval === undefined) {
                $("#node-input-interval").val(0);
            }
            $("#node-input-interval").spinner({ min: 0, max: MAX_INTERVAL });
        }
    });
})();
