(function () {
    RED.nodes.registerType("iot-ledger-replica", {
        category: "iot ledger",
        color: "#8CCFB9",
        defaults: {
            name: { value: "" },
            url: {
                value: "",
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    if (/^https?:\/\/\S+$/.test(String(value))) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-replica.errors.url") : false;
                }
            },
            key: {
                value: "",
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    var text = String(value).trim();
                    if (/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/.test(text) || /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(text)) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-replica.errors.key") : false;
                }
            },
            dir: { value: "" },
            interval: {
                value: 5,
                required: true,
                validate: function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
                    var text = String(value === null ? "" : value).trim();
                    if (value === undefined || (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 86400)) {
                        return true;
                    }
                    return typeof this._ === "function" ? this._("iot-ledger-replica.errors.interval") : false;
                }
            }
        },
        credentials: {
            user: { type: "text" },
            password: { type: "password" }
        },
        inputs: 1,
        outputs: 1,
        icon: "iot-ledger-replica.svg",
        paletteLabel: function () {
            return this._("iot-ledger-replica.paletteLabel");
        },
        label: function () {
            return this.name || this._("iot-ledger-replica.paletteLabel");
        },
        labelStyle: function () {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function () {
            $("#node-input-interval").spinner({ min: 1, max: 86400 });
        }
    });
})();
