(function () {
    // Mirrors lib/ha/topics.ts isTopicPrefix.
    function isTopicPrefix(value) {
        var s = String(value === undefined || value === null ? "" : value).trim();
        return s.length > 0 && s.length <= 200 && !/[+#\u0000]/.test(s) && s.charAt(0) !== "$" &&
            s.split("/").every(function (level) { return level.length > 0; });
    }

    // A validator that returns a message (Node-RED 3.1+ shows it) or false on older editors.
    function check(test, key) {
        return function (value, opt) { // eslint-disable-line @typescript-eslint/no-unused-vars -- a 2-argument validator may return a message
            if (test(value)) {
                return true;
            }
            return typeof this._ === "function" ? this._(key) : false;
        };
    }

    RED.nodes.registerType("iot-ledger-ha", {
        category: "config",
        defaults: {
            name: { value: "" },
            host: {
                value: "",
                required: true,
                validate: check(function (v) { return /^[^\s/]+$/.test(String(v || "").trim()); }, "iot-ledger-ha.errors.host")
            },
            port: {
                value: 1883,
                required: true,
                validate: check(function (v) {
                    var text = String(v === undefined || v === null ? "" : v).trim();
                    return /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
                }, "iot-ledger-ha.errors.port")
            },
            tls: { value: false },
            username: { value: "" },
            discoveryPrefix: {
                value: "homeassistant",
                required: true,
                validate: check(function (v) { return v === undefined || isTopicPrefix(v); }, "iot-ledger-ha.errors.topic")
            },
            baseTopic: {
                value: "iot-ledger",
                required: true,
                validate: check(function (v) { return v === undefined || isTopicPrefix(v); }, "iot-ledger-ha.errors.topic")
            },
            // Home Assistant's birth message topic; empty (as in flows made before it existed) = homeassistant/status.
            statusTopic: {
                value: "homeassistant/status",
                validate: check(function (v) { return v === undefined || String(v).trim() === "" || isTopicPrefix(v); }, "iot-ledger-ha.errors.topic")
            }
        },
        credentials: {
            password: { type: "password" }
        },
        icon: "iot-ledger-ha.svg",
        paletteLabel: function () {
            return this._("iot-ledger-ha.paletteLabel");
        },
        label: function () {
            if (this.name) {
                return this.name;
            }
            return this.host ? (this.tls ? "mqtts://" : "") + this.host + ":" + (this.port || 1883) : this._("iot-ledger-ha.paletteLabel");
        },
        oneditprepare: function () {
            var $port = $("#node-config-input-port");
            var $tls = $("#node-config-input-tls");
            $port.spinner({ min: 1, max: 65535 });
            // Switching TLS moves the port between the usual 1883 and 8883 unless another was set.
            $tls.on("change", function () {
                var port = String($port.val()).trim();
                if ($tls.prop("checked") && port === "1883") {
                    $port.val(8883);
                } else if (!$tls.prop("checked") && port === "8883") {
                    $port.val(1883);
                }
            });
        }
    });
})();
