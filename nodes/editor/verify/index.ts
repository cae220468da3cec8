(function () {
    RED.nodes.registerType("iot-ledger-verify", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            ledger: { value: "", type: "iot-ledger-config", required: true },
            tofu: { value: false },
            requireFreshness: { value: true },
            recordRejections: { value: true },
            outputs: { value: 1 }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-verify.svg",
        paletteLabel: function () {
            return this._("iot-ledger-verify.paletteLabel");
        },
        label: function () {
            return this.name || this._(this.tofu ? "iot-ledger-verify.label.verifyTofu" : "iot-ledger-verify.label.verify");
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        outputLabels: function (index) {
            if (Number(this.outputs) === 2 && index === 1) {
                return this._("iot-ledger-verify.outputs.rejected");
            }
            return this._("iot-ledger-verify.outputs.verified");
        },
        oneditprepare: function () {
            var $outputs = $("#node-input-outputs");
            var $rejectOutput = $("#iot-ledger-verify-rejectOutput");
            var $tofu = $("#node-input-tofu");

            // Properties missing from older flows: show the defaults the runtime uses.
            if (this.requireFreshness === undefined) {
                $("#node-input-requireFreshness").prop("checked", true);
            }
            if (this.recordRejections === undefined) {
                $("#node-input-recordRejections").prop("checked", true);
            }

            $rejectOutput.prop("checked", Number(this.outputs) === 2);
            $outputs.val(Number(this.outputs) === 2 ? "2" : "1");
            $rejectOutput.on("change", function () {
                $outputs.val(this.checked ? "2" : "1");
            });

            $tofu.on("change", function () {
                $("#iot-ledger-verify-tofu-warning").toggle(this.checked);
            });
            $("#iot-ledger-verify-tofu-warning").toggle($tofu.prop("checked"));
        }
    });
})();
