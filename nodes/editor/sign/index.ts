(function () {
    RED.nodes.registerType("iot-ledger-sign", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            identity: { value: "", type: "iot-ledger-identity", required: true },
            format: { value: "jws", required: true, validate: function (value) { return value === undefined || /^(jws|cose)$/.test(value); } },
            stamp: { value: true }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-sign.svg",
        paletteLabel: function () {
            return this._("iot-ledger-sign.paletteLabel");
        },
        label: function () {
            return this.name || this._(this.format === "cose" ? "iot-ledger-sign.label.cose" : "iot-ledger-sign.label.jws");
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            if (!$("#node-input-format").val()) {
                $("#node-input-format").val("jws");
            }
            if (this.stamp === undefined) {
                $("#node-input-stamp").prop("checked", true);
            }
        }
    });
})();
