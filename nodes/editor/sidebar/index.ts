(function () {
    var REFRESH_MS = 5000;
    var SERIES_LIMIT = 200;
    var CHART_HEIGHT = 170;
    var SVG_NS = "http://www.w3.org/2000/svg";
    var STATUS = {
        "compliant": "iot-ledger-sidebar-ok",
        "excursion": "iot-ledger-sidebar-warn",
        "violated": "iot-ledger-sidebar-error",
        "no-data": "iot-ledger-sidebar-idle"
    };

    function group(n) {
        return typeof n === "number" ? n.toLocaleString("en-US").replace(/,/g, "\u202f") : "";
    }

    function shortId(text, keep) {
        var s = String(text || "").replace(/^did:key:/, "");
        keep = keep || 8;
        return s.length > 2 * keep + 1 ? s.slice(0, keep) + "\u2026" + s.slice(-keep) : s;
    }

    function pad2(n) {
        return (n < 10 ? "0" : "") + n;
    }

    function clock(ms, seconds) {
        var d = new Date(ms);
        return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + (seconds ? ":" + pad2(d.getSeconds()) : "");
    }

    function when(ms) {
        var d = new Date(ms);
        var today = new Date();
        if (d.toDateString() === today.toDateString()) {
            return clock(ms, true);
        }
        return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " + clock(ms, false);
    }

    function formatValue(v) {
        return typeof v === "number" ? String(Number(v.toFixed(3))) : "";
    }

    function svg(tag, attrs, parent) {
        var el = document.createElementNS(SVG_NS, tag);
        Object.keys(attrs || {}).forEach(function (k) {
            el.setAttribute(k, attrs[k]);
        });
        if (parent) {
            parent.appendChild(el);
        }
        return el;
    }

    function svgTitle(el, text) {
        svg("title", {}, el).textContent = text;
        return el;
    }

    // Round axis steps: 1, 2 or 5 times a power of ten.
    function niceStep(span, count) {
        var raw = span / Math.max(1, count);
        var p = Math.pow(10, Math.floor(Math.log10(raw)));
        var m = raw / p;
        return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
    }

    function ruleLimits(rule) {
        if (!rule || typeof rule !== "object") {
            return [];
        }
        if (rule.op === "between") {
            return [rule.low, rule.high].filter(function (v) { return typeof v === "number"; });
        }
        return typeof rule.limit === "number" ? [rule.limit] : [];
    }

    function ruleText(rule, unit) {
        var u = unit ? " " + unit : "";
        if (!rule || typeof rule !== "object") {
            return "";
        }
        if (rule.op === "between") {
            return formatValue(rule.low) + u + " < value < " + formatValue(rule.high) + u;
        }
        var op = { "<": "<", "<=": "\u2264", ">": ">", ">=": "\u2265" }[rule.op] || rule.op;
        return "value " + op + " " + formatValue(rule.limit) + u;
    }

    /**
     * Draws the readings of a contract as a step line (a reading holds until the next), the
     * rule's limits as dashed lines, excursions as shaded bands (from the moment one became a
     * violation, in the violation colour) and
     * violations as markers. No chart library: plain SVG sized to the sidebar.
     */
    function drawChart(container, series, width, _) {
        var unit = series.contract.unit ? " " + series.contract.unit : "";
        var points = series.points || [];
        var w = Math.max(220, Math.floor(width));
        var h = CHART_HEIGHT;
        var m = { left: 44, right: 12, top: 12, bottom: 22 };
        var root = svg("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h, "class": "iot-ledger-sidebar-chart" });
        container.appendChild(root);
        if (points.length === 0) {
            var empty = svg("text", { x: w / 2, y: h / 2, "text-anchor": "middle", "class": "iot-ledger-sidebar-chart-label" }, root);
            empty.textContent = _("chart.empty");
            return;
        }
        var t0 = points[0].time;
        var t1 = Math.max(series.to || t0, points[points.length - 1].time);
        if (t1 - t0 < 10000) {
            t1 = t0 + 10000;
        }
        var limits = ruleLimits(series.contract.rule);
        var values = points.map(function (p) { return p.value; }).concat(limits);
        var lo = Math.min.apply(null, values);
        var hi = Math.max.apply(null, values);
        var padding = Math.max((hi - lo) * 0.1, 0.5);
        lo -= padding;
        hi += padding;
        var x = function (t) {
            return m.left + ((t - t0) / (t1 - t0)) * (w - m.left - m.right);
        };
        var y = function (v) {
            return m.top + ((hi - v) / (hi - lo)) * (h - m.top - m.bottom);
        };
        var plotBottom = h - m.bottom;

        // horizontal grid and value labels
        var step = niceStep(hi - lo, 4);
        for (var v = Math.ceil(lo / step) * step; v <= hi; v += step) {
            var gy = y(v);
            svg("line", { x1: m.left, x2: w - m.right, y1: gy, y2: gy, "class": "iot-ledger-sidebar-chart-grid" }, root);
            var label = svg("text", { x: m.left - 4, y: gy + 3, "text-anchor": "end", "class": "iot-ledger-sidebar-chart-label" }, root);
            label.textContent = formatValue(Math.abs(v) < step / 1e6 ? 0 : v);
        }
        // time labels: start, middle, end
        var span = t1 - t0;
        [t0, t0 + span / 2, t1].forEach(function (t, i) {
            var tl = svg("text", {
                x: x(t),
                y: h - 6,
                "text-anchor": i === 0 ? "start" : i === 2 ? "end" : "middle",
                "class": "iot-ledger-sidebar-chart-label"
            }, root);
            tl.textContent = span > 86400000 ? when(t) : clock(t, span < 600000);
        });

        // excursions: shaded from start to end (or the end of the chart while open), the part
        // before the violation in the excursion colour, the violation from when it began
        function band(from, to, cls, title) {
            var a = Math.max(from, t0);
            var b = Math.min(to, t1);
            if (b < a) {
                return;
            }
            svgTitle(svg("rect", {
                x: x(a),
                y: m.top,
                width: Math.max(2, x(b) - x(a)),
                height: plotBottom - m.top,
                "class": cls
            }, root), title);
        }
        (series.excursions || []).forEach(function (e) {
            var end = e.end === null ? t1 : e.end;
            var to = e.end === null ? _("chart.open") : when(e.end);
            // Older runtimes send no violatedAt: the whole violated excursion is then a violation.
            var violatedAt = !e.violated ? null : typeof e.violatedAt === "number" ? e.violatedAt : e.start;
            if (violatedAt === null || violatedAt > e.start) {
                band(e.start, violatedAt === null ? end : violatedAt, "iot-ledger-sidebar-chart-excursion",
                    _("chart.excursion", { from: when(e.start), to: violatedAt === null ? to : when(violatedAt) }));
            }
            if (violatedAt !== null) {
                band(violatedAt, end, "iot-ledger-sidebar-chart-violation",
                    _("chart.violatedExcursion", { from: when(violatedAt), to: to, start: when(e.start) }));
            }
        });

        // the limits
        limits.forEach(function (l) {
            var ly = y(l);
            svgTitle(svg("line", { x1: m.left, x2: w - m.right, y1: ly, y2: ly, "class": "iot-ledger-sidebar-chart-limit" }, root),
                _("chart.limit", { value: formatValue(l) + unit }));
        });

        // the readings, as a step line
        var d = "M" + x(points[0].time).toFixed(1) + "," + y(points[0].value).toFixed(1);
        for (var i = 1; i < points.length; i++) {
            d += "H" + x(points[i].time).toFixed(1) + "V" + y(points[i].value).toFixed(1);
        }
        d += "H" + x(t1).toFixed(1);
        svg("path", { d: d, "class": "iot-ledger-sidebar-chart-line" }, root);
        if (points.length <= 80) {
            points.forEach(function (p) {
                svgTitle(svg("circle", { cx: x(p.time), cy: y(p.value), r: 2.2, "class": "iot-ledger-sidebar-chart-point" }, root),
                    formatValue(p.value) + unit + " \u00b7 " + when(p.time) + " \u00b7 #" + p.index);
            });
        }

        // violations and gaps: markers on the top and bottom edges
        (series.events || []).forEach(function (e) {
            if (e.time < t0 || e.time > t1) {
                return;
            }
            var ex = x(e.time);
            if (e.type === "violation") {
                svgTitle(svg("path", { d: "M" + (ex - 5) + "," + m.top + "h10l-5,7z", "class": "iot-ledger-sidebar-chart-marker" }, root),
                    _("chart.violation", { time: when(e.time) }));
            } else if (e.type === "data.gap" || e.type === "mkt.exceeded") {
                svgTitle(svg("path", { d: "M" + (ex - 4) + "," + plotBottom + "l4,-6l4,6z", "class": "iot-ledger-sidebar-chart-gap" }, root),
                    e.type + " \u00b7 " + when(e.time));
            }
        });
        svg("line", { x1: m.left, x2: w - m.right, y1: plotBottom, y2: plotBottom, "class": "iot-ledger-sidebar-chart-axis" }, root);
    }

    RED.plugins.registerPlugin("iot-ledger-sidebar", {
        onadd: function () {
            var plugin = this;
            var _ = function (key, args) {
                var full = "iot-ledger-sidebar." + key;
                return typeof plugin._ === "function" ? plugin._(full, args) : RED._("node-red-contrib-iot-ledger/iot-ledger-sidebar:" + full, args);
            };
            var selected = { ledger: null, contract: null };
            var busy = false;
            var lastSeries = null;

            var content = $('<div class="iot-ledger-sidebar">');
            var header = $('<div class="red-ui-sidebar-header iot-ledger-sidebar-header">').appendTo(content);
            var $ledgerSelect = $('<select class="iot-ledger-sidebar-select">').hide().appendTo(header);
            var $updated = $('<span class="iot-ledger-sidebar-updated">').appendTo(header);
            var $refresh = $('<button type="button" class="red-ui-sidebar-header-button"><i class="fa fa-refresh"></i></button>')
                .appendTo(header)
                .on("click", function (event) {
                    event.preventDefault();
                    refresh();
                });
            RED.popover.tooltip($refresh, _("refresh"));

            var body = $('<div class="iot-ledger-sidebar-body">').appendTo(content);
            var $replicas = $('<div class="iot-ledger-sidebar-section iot-ledger-sidebar-replicas">').hide().appendTo(body);
            var $message = $('<div class="iot-ledger-sidebar-message">').hide().appendTo(body);
            var stackContainer = $("<div>").appendTo(body);
            var stack = RED.stack.create({ container: stackContainer });
            var sections = {};
            ["ledger", "contracts", "blocks", "audit", "anchors", "devices", "security"].forEach(function (name) {
                sections[name] = stack.add({ title: _("section." + name), collapsible: true, expanded: true });
                sections[name].content.addClass("iot-ledger-sidebar-section");
            });
            stackContainer.hide();

            function showMessage(icon, text) {
                stackContainer.hide();
                $message.empty()
                    .append($("<i>").addClass("fa " + icon))
                    .append(" ")
                    .append($("<span>").text(text))
                    .show();
            }

            function copyButton(text) {
                return $('<button type="button" class="red-ui-button red-ui-button-small iot-ledger-sidebar-copy"><i class="fa fa-clipboard"></i></button>')
                    .attr("title", _("copy"))
                    .on("click", function (event) {
                        event.preventDefault();
                        event.stopPropagation();
                        RED.clipboard.copyText(text, $(this), "clipboard.copyMessageValue");
                    });
            }

            function row(table, label, value) {
                var tr = $("<tr>").appendTo(table);
                $("<td>").text(label).appendTo(tr);
                var td = $("<td>").appendTo(tr);
                if (value instanceof $) {
                    td.append(value);
                } else {
                    td.text(value);
                }
                return tr;
            }

            function idCell(text, keep) {
                return $('<span class="iot-ledger-sidebar-id">')
                    .append($('<span class="iot-ledger-sidebar-code">').text(shortId(text, keep)).attr("title", text))
                    .append(copyButton(text));
            }

            function setTitle(section, text, count) {
                section.title.text(text);
                if (count !== undefined) {
                    section.title.append($('<span class="iot-ledger-sidebar-count">').text(count));
                }
            }

            function renderLedger(l) {
                var c = sections.ledger.content.empty();
                setTitle(sections.ledger, _("section.ledger") + " \u00b7 " + l.name);
                var table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
                row(table, _("ledger.records"), group(l.size) + (l.pending ? " " + _("ledger.pending", { count: group(l.pending) }) : ""));
                row(table, _("ledger.blocks"), group(l.blocks));
                row(table, _("ledger.gateway"), idCell(l.gatewayDid, 8));
                row(table, _("ledger.verifier"), idCell(l.verifierKey, 7));
                row(table, _("ledger.dir"), $('<span class="iot-ledger-sidebar-muted iot-ledger-sidebar-wrap">').text(l.dir));
                var w = l.witnesses;
                if (w && w.of > 0) {
                    var names = w.witnesses.map(function (x) { return x.name + ": " + (x.last || "…") + (typeof x.size === "number" ? " @" + x.size : ""); }).join("\n");
                    row(table, _("ledger.witnesses"), $("<span>").text(_("ledger.cosigned", { k: w.cosigned, n: w.of, quorum: w.quorum }))
                        .css("color", w.met ? "" : "#c00").attr("title", names));
                }
            }

            function renderBlocks(l) {
                var c = sections.blocks.content.empty();
                setTitle(sections.blocks, _("section.blocks"));
                if (!l.latestBlocks.length) {
                    $('<div class="iot-ledger-sidebar-empty">').text(_("blocks.none")).appendTo(c);
                    return;
                }
                var table = $('<table class="iot-ledger-sidebar-table">').appendTo(c);
                $("<tr>")
                    .append($("<th>").text(_("blocks.height")))
                    .append($("<th>").text(_("blocks.records")))
                    .append($("<th>").text(_("blocks.sealed")))
                    .append($("<th>").text(_("blocks.root")))
                    .appendTo(table);
                l.latestBlocks.forEach(function (b) {
                    $("<tr>")
                        .append($("<td>").text("#" + b.height))
                        .append($("<td>").text(group(b.records)).attr("title", _("blocks.treeSize", { size: group(b.size) })))
                        .append($("<td>").text(when(b.time)))
                        .append($("<td>").append($('<span class="iot-ledger-sidebar-code">').text(b.root.slice(0, 12) + "\u2026").attr("title", b.root)))
                        .appendTo(table);
                });
            }

            function renderAudit(l) {
                var c = sections.audit.content.empty();
                var a = l.lastAudit;
                var box = $('<div class="iot-ledger-sidebar-audit">').appendTo(c);
                if (!a) {
                    box.addClass("iot-ledger-sidebar-idle")
                        .append($('<i class="fa fa-info-circle">'))
                        .append(" ")
                        .append($("<span>").text(_("audit.none")));
                    return;
                }
                if (a.clean) {
                    box.addClass("iot-ledger-sidebar-ok")
                        .append($('<i class="fa fa-check-circle">'))
                        .append(" ")
                        .append($("<b>").text(_("audit.clean", { count: group(a.size) })));
                } else {
                    var f = a.first || {};
                    var where = typeof f.index === "number" ? "#" + f.index : typeof f.height === "number" ? _("audit.block", { height: f.height }) : (f.kind || "?");
                    box.addClass("iot-ledger-sidebar-error")
                        .append($('<i class="fa fa-exclamation-triangle">'))
                        .append(" ")
                        .append($("<b>").text(_("audit.tampered", { where: where })));
                    var table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
                    if (f.kind) {
                        row(table, _("audit.kind"), f.kind);
                    }
                    if (typeof f.height === "number") {
                        row(table, _("audit.height"), "#" + f.height);
                    }
                    if (typeof f.time === "number") {
                        row(table, _("audit.time"), when(f.time));
                    }
                    if (f.device) {
                        row(table, _("audit.device"), idCell(f.device, 8));
                    }
                    if (f.detail) {
                        row(table, _("audit.detail"), $('<span class="iot-ledger-sidebar-wrap">').text(f.detail));
                    }
                }
                $('<div class="iot-ledger-sidebar-muted">').text(_("audit.at", { time: when(a.at) })).appendTo(c);
            }

            function renderSecurity(l) {
                var c = sections.security.content.empty();
                var sec = l.security || { total: 0, byCode: {}, shed: 0, waiting: 0, recent: [] };
                setTitle(sections.security, _("section.security"), sec.total ? group(sec.total) : undefined);
                if (!sec.total && !sec.recent.length) {
                    $('<div class="iot-ledger-sidebar-empty">').text(_("security.none")).appendTo(c);
                    return;
                }
                var table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
                Object.keys(sec.byCode).sort().forEach(function (code) {
                    row(table, code, group(sec.byCode[code]));
                });
                var notes = [_("security.since", { count: group(sec.total) })];
                if (sec.shed) {
                    notes.push(_("security.shed", { count: group(sec.shed) }));
                }
                if (sec.waiting) {
                    notes.push(_("security.waiting", { count: group(sec.waiting) }));
                }
                $('<div class="iot-ledger-sidebar-muted">').text(notes.join(" \u00b7 ")).appendTo(c);
                if (!sec.recent.length) {
                    return;
                }
                $('<div class="iot-ledger-sidebar-muted">').text(_("security.recent")).appendTo(c);
                var recent = $('<table class="iot-ledger-sidebar-table">').appendTo(c);
                sec.recent.forEach(function (r) {
                    $("<tr>")
                        .append($("<td>").text("#" + r.index))
                        .append($("<td>").text(_("security.count", { count: group(r.count) }) + " " + r.code))
                        .append($("<td>").append(r.device ? idCell(r.device, 6) : $('<span class="iot-ledger-sidebar-wrap">').text(r.topic || "")))
                        .append($("<td>").text(when(r.last)))
                        .appendTo(recent);
                });
            }

            // Anchor nodes on this ledger: last confirmed anchor, the pending one, the last error.
            function renderAnchors(l) {
                var c = sections.anchors.content.empty();
                var list = l.anchors || [];
                if (!list.length) {
                    $('<div class="iot-ledger-sidebar-empty">').text(_("anchors.none")).appendTo(c);
                    return;
                }
                list.forEach(function (a) {
                    var table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo(c);
                    row(table, _("anchors.chain"), _("anchors.chainContract", { chain: a.chainId, contract: a.contract }));
                    var last = a.lastConfirmed;
                    row(table, _("anchors.confirmed"), last
                        ? _("anchors.at", { size: group(last.size), block: last.block, time: when(last.blockTime) })
                        : _("anchors.never"));
                    var p = a.pending;
                    if (p) {
                        row(table, _("anchors.pending"), typeof p.block === "number"
                            ? _("anchors.mined", { size: group(p.size), block: p.block, confirmations: p.confirmations })
                            : _("anchors.sent", { size: group(p.size), bumps: p.bumps }));
                    }
                    if (a.lastError) {
                        row(table, _("anchors.error"), $('<span class="iot-ledger-sidebar-wrap">').text(a.lastError.code + ": " + a.lastError.message));
                    }
                });
            }

            function renderDevices(l) {
                var c = sections.devices.content.empty();
                setTitle(sections.devices, _("section.devices"), l.devices.length);
                if (!l.devices.length) {
                    $('<div class="iot-ledger-sidebar-empty">').text(_("devices.none")).appendTo(c);
                    return;
                }
                var table = $('<table class="iot-ledger-sidebar-table">').appendTo(c);
                l.devices.forEach(function (d) {
                    var state = $("<td>");
                    if (d.revoked) {
                        $('<span class="iot-ledger-sidebar-badge iot-ledger-sidebar-error">').text(_("devices.revoked")).appendTo(state);
                    } else {
                        $('<span class="iot-ledger-sidebar-badge iot-ledger-sidebar-ok">').text(_("devices.active")).appendTo(state);
                    }
                    if (d.tofu) {
                        $('<span class="iot-ledger-sidebar-badge iot-ledger-sidebar-warn">').text("TOFU").attr("title", _("devices.tofu")).appendTo(state);
                    }
                    $("<tr>")
                        .toggleClass("iot-ledger-sidebar-revoked", d.revoked)
                        .append($("<td>").text(d.name))
                        .append($("<td>").append(idCell(d.did, 6)))
                        .append(state)
                        .appendTo(table);
                });
            }

            function contractStatus(k) {
                if (!k.active) {
                    return { cls: "iot-ledger-sidebar-idle", text: _("contracts.awaiting") };
                }
                var cls = STATUS[k.status] || "iot-ledger-sidebar-idle";
                return { cls: cls, text: _("status." + (STATUS[k.status] ? k.status : "no-data")) };
            }

            function renderContracts(l) {
                var c = sections.contracts.content.empty();
                setTitle(sections.contracts, _("section.contracts"), l.contracts.length);
                if (!l.contracts.length) {
                    $('<div class="iot-ledger-sidebar-empty">').text(_("contracts.none")).appendTo(c);
                    selected.contract = null;
                    return;
                }
                if (!l.contracts.some(function (k) { return k.termsHash === selected.contract; })) {
                    selected.contract = l.contracts[0].termsHash;
                }
                var list = $('<div class="iot-ledger-sidebar-contracts">').appendTo(c);
                l.contracts.forEach(function (k) {
                    var s = contractStatus(k);
                    var item = $('<div class="iot-ledger-sidebar-contract">')
                        .toggleClass("selected", k.termsHash === selected.contract)
                        .attr("title", _("contracts.select"))
                        .on("click", function () {
                            selected.contract = k.termsHash;
                            list.children().removeClass("selected");
                            item.addClass("selected");
                            loadSeries(l);
                        })
                        .appendTo(list);
                    var line = $('<div class="iot-ledger-sidebar-contract-line">').appendTo(item);
                    $('<i class="fa fa-circle iot-ledger-sidebar-dot">').addClass(s.cls).appendTo(line);
                    $('<span class="iot-ledger-sidebar-contract-title">').text(k.title).appendTo(line);
                    $('<span class="iot-ledger-sidebar-contract-status">').addClass(s.cls).text(s.text).appendTo(line);
                    var meta = $('<div class="iot-ledger-sidebar-muted">').appendTo(item);
                    var parts = [k.id, ruleText(k.rule, k.unit)];
                    if (k.last) {
                        parts.push(_("contracts.last", { value: formatValue(k.last.value) + (k.unit ? " " + k.unit : ""), time: when(k.last.time) }));
                    }
                    meta.text(parts.filter(Boolean).join(" \u00b7 "));
                });
                $('<div class="iot-ledger-sidebar-chart-box">').appendTo(c);
                if (lastSeries && lastSeries.contract.termsHash === selected.contract && lastSeries.ledger === l.name) {
                    renderSeries(lastSeries);
                }
                loadSeries(l);
            }

            function renderSeries(series) {
                var box = sections.contracts.content.find(".iot-ledger-sidebar-chart-box").empty();
                if (!box.length) {
                    return;
                }
                var head = $('<div class="iot-ledger-sidebar-chart-head">').appendTo(box);
                $("<b>").text(series.contract.title).appendTo(head);
                if (!series.points.length) {
                    $('<div class="iot-ledger-sidebar-empty">').text(_("chart.empty")).appendTo(box);
                    return;
                }
                $('<span class="iot-ledger-sidebar-muted">')
                    .text(" \u00b7 " + _("chart.points", { count: series.points.length, metric: series.contract.metric }))
                    .appendTo(head);
                var width = box.width() || sections.contracts.content.width() || 280;
                drawChart(box[0], series, width, _);
                var legend = $('<div class="iot-ledger-sidebar-legend">').appendTo(box);
                [["line", "legend.reading"], ["limit", "legend.limit"], ["excursion", "legend.excursion"], ["violation", "legend.violation"]].forEach(function (e) {
                    $("<span>")
                        .append($('<i class="iot-ledger-sidebar-key">').addClass("iot-ledger-sidebar-key-" + e[0]))
                        .append($("<span>").text(_(e[1])))
                        .appendTo(legend);
                });
            }

            function loadSeries(l) {
                if (!selected.contract) {
                    return;
                }
                var hash = selected.contract;
                $.getJSON("iot-ledger/sidebar/series", { ledger: l.name, contract: hash, limit: SERIES_LIMIT })
                    .done(function (series) {
                        if (selected.contract !== hash) {
                            return;
                        }
                        lastSeries = series;
                        renderSeries(series);
                    })
                    .fail(function (xhr) {
                        var box = sections.contracts.content.find(".iot-ledger-sidebar-chart-box").empty();
                        var error = (xhr.responseJSON && xhr.responseJSON.error) || xhr.statusText || String(xhr.status);
                        $('<div class="iot-ledger-sidebar-empty">').text(_("chart.error", { error: error })).appendTo(box);
                    });
            }

            // Replica nodes of this runtime: records held and lag behind their origin.
            function renderReplicas(replicas) {
                $replicas.empty().toggle(replicas.length > 0);
                if (!replicas.length) {
                    return;
                }
                $("<b>").text(_("replicas.title")).appendTo($replicas);
                var table = $('<table class="red-ui-info-table iot-ledger-sidebar-info">').appendTo($replicas);
                replicas.forEach(function (r) {
                    var state = r.state.indexOf("stopped") === 0 ? _("replicas." + r.state) : _("replicas.lag", { size: group(r.size), lag: group(r.lag) });
                    var value = $("<span>").text(state);
                    if (r.error) {
                        value.attr("title", r.error.code + ": " + r.error.message).addClass("iot-ledger-sidebar-muted");
                    }
                    row(table, r.name || r.url, value);
                });
            }

            function render(ledgers) {
                if (!ledgers.length) {
                    $ledgerSelect.hide();
                    showMessage("fa-info-circle", _("none"));
                    return;
                }
                var names = ledgers.map(function (l) { return l.name; });
                if (names.indexOf(selected.ledger) < 0) {
                    selected.ledger = names[0];
                }
                $ledgerSelect.empty();
                names.forEach(function (n) {
                    $("<option>").val(n).text(n).appendTo($ledgerSelect);
                });
                $ledgerSelect.val(selected.ledger).toggle(ledgers.length > 1);
                var l = ledgers[names.indexOf(selected.ledger)];
                $message.hide();
                stackContainer.show();
                renderLedger(l);
                renderContracts(l);
                renderBlocks(l);
                renderAnchors(l);
                renderAudit(l);
                renderDevices(l);
                renderSecurity(l);
            }

            function refresh() {
                if (busy) {
                    return;
                }
                busy = true;
                $refresh.find("i").addClass("fa-spin");
                $.getJSON("iot-ledger/sidebar")
                    .done(function (data) {
                        renderReplicas((data && data.replicas) || []);
                        if (!((data && data.ledgers) || []).length && ((data && data.replicas) || []).length) {
                            stackContainer.hide();
                            $message.hide();
                        } else {
                            render((data && data.ledgers) || []);
                        }
                        $updated.text(_("updated", { time: clock(Date.now(), true) }));
                    })
                    .fail(function (xhr) {
                        if (xhr.status === 404) {
                            showMessage("fa-exclamation-triangle", _("noEndpoint"));
                            return;
                        }
                        var body = xhr.responseJSON || {};
                        showMessage("fa-exclamation-triangle", _("error", { error: body.error || xhr.statusText || String(xhr.status) }));
                    })
                    .always(function () {
                        busy = false;
                        $refresh.find("i").removeClass("fa-spin");
                    });
            }

            $ledgerSelect.on("change", function () {
                selected.ledger = $ledgerSelect.val();
                selected.contract = null;
                lastSeries = null;
                refresh();
            });

            // Auto-refresh while the tab is on screen (and the browser tab is visible).
            setInterval(function () {
                if (content.is(":visible") && !document.hidden) {
                    refresh();
                }
            }, REFRESH_MS);
            RED.events.on("sidebar:resize", function () {
                if (lastSeries && content.is(":visible")) {
                    renderSeries(lastSeries);
                }
            });
            RED.events.on("deploy", function () {
                setTimeout(function () {
                    if (content.is(":visible")) {
                        refresh();
                    }
                }, 1000);
            });

            RED.sidebar.addTab({
                id: "iot-ledger",
                label: _("label"),
                name: _("name"),
                iconClass: "fa fa-chain",
                content: content,
                enableOnEdit: true,
                onchange: function () {
                    refresh();
                }
            });
        }
    });
})();
