(function () {
    var TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

    RED.nodes.registerType("iot-ledger-record", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            ledger: { value: "", type: "iot-ledger-config", required: true },
            recordType: {
                value: "reading",
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    if (value === undefined || TYPE_PATTERN.test(String(value))) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-record.errors.recordType") : false;
                }
            },
            allowOverride: { value: true }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-record.svg",
        paletteLabel: function () {
            return this._("iot-ledger-record.paletteLabel");
        },
        label: function () {
            return this.name || this._("iot-ledger-record.label.node", { type: this.recordType || "reading" });
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            // Properties missing from older flows: show the defaults the runtime uses.
            if (this.recordType === undefined) {
                $("#node-input-recordType").val("reading");
            }
            if (this.allowOverride === undefined) {
                $("#node-input-allowOverride").prop("checked", true);
            }
        }
    });
})();
