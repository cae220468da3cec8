(function () {
    var MODES = ["check", "release", "report", "vendor"];

    RED.nodes.registerType("iot-ledger-firmware", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            ledger: { value: "", type: "iot-ledger-config", required: true },
            ha: { value: "", type: "iot-ledger-ha", required: false },
            mode: { value: "check", required: true, validate: function (value) { return value === undefined || /^(check|release|report|vendor)$/.test(value); } },
            publishOffer: { value: false }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-firmware.svg",
        paletteLabel: function () {
            return this._("iot-ledger-firmware.paletteLabel");
        },
        label: function () {
            var mode = MODES.indexOf(this.mode) >= 0 ? this.mode : "check";
            return this.name || this._("iot-ledger-firmware.label.node", { mode: this._("iot-ledger-firmware.mode." + mode) });
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            var node = this;
            var $mode = $("#node-input-mode");
            if (!$mode.val()) {
                $mode.val("check");
            }
            $mode.on("change", function () {
                var mode = MODES.indexOf($mode.val()) >= 0 ? $mode.val() : "check";
                $("#iot-ledger-firmware-tip").text(node._("iot-ledger-firmware.tip." + mode));
            }).trigger("change");
        }
    });
})();
