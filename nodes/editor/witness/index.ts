(function () {
    // The same rule as lib/note-open.ts isValidKeyName (C2SP signed-note key names).
    var BAD_NAME = /[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/;

    RED.nodes.registerType("iot-ledger-witness", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            keyName: {
                value: "",
                required: true,
                validate: function (v) { return typeof v === "string" && v.length > 0 && !BAD_NAME.test(v); }
            },
            identity: { value: "", type: "iot-ledger-identity", required: false },
            ledger: { value: "", type: "iot-ledger-config", required: false },
            logs: { value: "" },
            prefix: { value: "/iot-ledger/witness" },
            mqttUrl: { value: "", validate: function (v) { return !v || /^mqtts?:\/\/[^/]+\/?$/.test(v); } },
            mqttTopic: { value: "" },
            stateDir: { value: "" }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-witness.svg",
        paletteLabel: function () {
            return this._("iot-ledger-witness.paletteLabel");
        },
        label: function () {
            return this.name || this._("iot-ledger-witness.label.node", { name: this.keyName || "" });
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            var node = this;
            var out = $("#node-input-witness-vkey");
            out.text(node._("iot-ledger-witness.verifierKey.undeployed"));
            $.getJSON("iot-ledger/witnesses/" + encodeURIComponent(node.id)).done(function (r) {
                if (r && r.deployed && r.verifierKey) {
                    out.text(r.verifierKey);
                }
            });
        }
    });
})();
