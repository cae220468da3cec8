(function () {
    RED.nodes.registerType("iot-ledger-enrol", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            ledger: { value: "", type: "iot-ledger-config", required: true },
            action: { value: "msg", required: true, validate: function (value) { return value === undefined || /^(msg|enrol|revoke)$/.test(value); } }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-enrol.svg",
        paletteLabel: function () {
            return this._("iot-ledger-enrol.paletteLabel");
        },
        label: function () {
            var action = this.action === "enrol" || this.action === "revoke" ? this.action : "msg";
            return this.name || this._("iot-ledger-enrol.label." + action);
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            if (!$("#node-input-action").val()) {
                $("#node-input-action").val("msg");
            }
        }
    });
})();
