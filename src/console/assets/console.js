// The Vltava console: one page, hash routes (#/topics, #/messages?…), data from /api/….
// No framework: `el` builds DOM nodes (text goes in as text, never as HTML).
"use strict";

const main = document.getElementById("main");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, options) {
  const r = await fetch("/api/" + path, options);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function table(headers, rows, attrs) {
  return el("table", attrs || {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

function num(v) { return el("td", { class: "num" }, String(v)); }

function bytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(1) + " " + units[i];
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

function card(label, value, id) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label),
    el("div", { class: "value", id: id }, String(value)));
}

function params(query) {
  const out = {};
  for (const [k, v] of new URLSearchParams(query || "")) out[k] = v;
  return out;
}

// ----- rendering keys, values and headers -------------------------------------------------------

function decodeBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hex(b) {
  const lines = [];
  for (let i = 0; i < b.length; i += 16) {
    const chunk = Array.from(b.slice(i, i + 16));
    const hexes = chunk.map((x) => x.toString(16).padStart(2, "0")).join(" ");
    const ascii = chunk.map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join("");
    lines.push(i.toString(16).padStart(6, "0") + "  " + hexes.padEnd(48) + " " + ascii);
  }
  return lines.join("\n");
}

// A field ({size, truncated, base64} or null) in the chosen format: text, json, hex or auto
// (JSON when it parses, text when it is UTF-8, hex otherwise).
function render(field, format) {
  if (field === null) return el("span", { class: "muted" }, "null");
  const b = decodeBase64(field.base64);
  let text = null;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(b); } catch (e) { text = null; }
  let shown, kind;
  if (format === "hex" || (format === "auto" && text === null)) {
    shown = hex(b); kind = "hex";
  } else if (format === "json" || format === "auto") {
    let parsed;
    try { parsed = text !== null && text.trim() !== "" ? JSON.parse(text) : undefined; } catch (e) { parsed = undefined; }
    if (parsed !== undefined && (format === "json" || typeof parsed === "object")) {
      shown = JSON.stringify(parsed, null, 2); kind = "json";
    } else {
      shown = text !== null ? text : new TextDecoder().decode(b); kind = "text";
    }
  } else {
    shown = text !== null ? text : new TextDecoder().decode(b); kind = "text";
  }
  const note = field.truncated ? " (first " + b.length + " of " + field.size + " bytes)" : "";
  return el("div", { class: "field-wrap" }, el("pre", { class: "field field-" + kind }, shown),
    note ? el("span", { class: "muted" }, note) : null);
}

// ----- pages --------------------------------------------------------------------------------------

const pages = {};

pages.overview = async () => {
  const o = await api("overview");
  return [
    el("h1", {}, "Cluster overview"),
    el("div", { class: "cards" },
      card("Node id", o.node_id, "node-id"),
      card("Cluster id", o.cluster_id, "cluster-id"),
      card("Version", o.version, "version"),
      card("Uptime", duration(o.uptime_ms), "uptime"),
      card("Topics", o.topics, "topic-count"),
      card("Internal topics", o.internal_topics, "internal-topic-count"),
      card("Partitions (all topics)", o.partitions, "partition-count"),
      card("Storage", o.in_memory ? "in memory" : "on disk")),
    el("h2", {}, "Listeners"),
    table(["Name", "Protocol", "Advertised"],
      o.listeners.map((l) => el("tr", {}, el("td", {}, l.name), el("td", {}, l.protocol), el("td", {}, l.advertised)))),
  ];
};

pages.topics = async (rest) => {
  if (rest) return topicPage(decodeURIComponent(rest));
  const t = await api("topics");
  return [
    el("h1", {}, "Topics"),
    table(["Topic", "Partitions", "Messages", "Size", ""],
      t.topics.map((x) => el("tr", { "data-topic": x.name },
        el("td", {}, el("a", { href: "#/topics/" + encodeURIComponent(x.name) }, x.name), " ",
          x.internal ? el("span", { class: "tag" }, "internal") : null),
        num(x.partitions), num(x.messages), num(bytes(x.size_bytes)),
        el("td", {}, el("a", { href: "#/messages?topic=" + encodeURIComponent(x.name) }, "browse")))),
      { id: "topics-table" }),
  ];
};

async function topicPage(name) {
  const t = await api("topics/" + encodeURIComponent(name));
  return [
    el("h1", {}, "Topic ", el("span", { id: "topic-name" }, t.name), " ",
      t.internal ? el("span", { class: "tag" }, "internal") : null),
    el("p", { class: "muted" }, "Topic id " + t.id),
    el("h2", {}, "Partitions"),
    table(["Partition", "Leader", "Epoch", "Log start offset", "End offset (high watermark)", "Log end offset", "Size", "Segments", ""],
      t.partitions.map((p) => el("tr", { "data-partition": p.partition },
        num(p.partition), num(p.leader), num(p.leader_epoch), num(p.log_start_offset),
        el("td", { class: "num end-offset" }, String(p.high_watermark)), num(p.log_end_offset),
        num(bytes(p.size_bytes)), num(p.segments),
        el("td", {}, p.offline ? el("span", { class: "error" }, "offline ") : null,
          el("a", { href: "#/messages?topic=" + encodeURIComponent(t.name) + "&partition=" + p.partition }, "browse")))),
      { id: "partitions-table" }),
    el("h2", {}, "Configs"),
    el("p", { class: "muted" }, "Effective values; bold ones are set on the topic, the rest come from the broker."),
    table(["Name", "Value", "Source"],
      t.configs.map((c) => el("tr", { class: c.source === "topic" ? "set" : "" },
        el("td", {}, c.name), el("td", {}, c.value === null ? "(hidden)" : c.value), el("td", {}, c.source))),
      { id: "configs-table" }),
  ];
}

pages.messages = async (rest, query) => {
  const q = params(query);
  const topics = (await api("topics")).topics;
  const topic = q.topic || (topics.find((t) => !t.internal) || topics[0] || {}).name || "";
  const format = q.format || "auto";
  const form = el("form", { id: "browse-form" },
    el("label", {}, "Topic", el("select", { name: "topic" },
      topics.map((t) => el("option", { value: t.name, selected: t.name === topic }, t.name)))),
    el("label", {}, "Partition", el("input", { name: "partition", type: "number", min: 0, value: q.partition || 0, style: "width:6em" })),
    el("label", {}, "From offset", el("input", { name: "offset", type: "number", value: q.offset || "", placeholder: "log start", style: "width:9em" })),
    el("label", {}, "or from time", el("input", { name: "time", type: "datetime-local", step: 1, value: q.timestamp ? localTime(+q.timestamp) : "" })),
    el("label", {}, "Records", el("input", { name: "limit", type: "number", min: 1, max: 500, value: q.limit || 50, style: "width:6em" })),
    el("label", {}, "Show as", el("select", { name: "format" },
      ["auto", "text", "json", "hex"].map((f) => el("option", { value: f, selected: f === format }, f)))),
    el("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const next = new URLSearchParams({ topic: f.get("topic"), partition: f.get("partition"), limit: f.get("limit"), format: f.get("format") });
    if (f.get("time")) next.set("timestamp", String(new Date(f.get("time")).getTime()));
    else if (f.get("offset") !== "") next.set("offset", f.get("offset"));
    location.hash = "#/messages?" + next;
  });
  const out = [el("h1", {}, "Message browser"), form];
  if (!topic) return out.concat(el("p", {}, "No topics yet."));
  const apiQuery = new URLSearchParams({ partition: q.partition || 0, limit: q.limit || 50 });
  if (q.timestamp) apiQuery.set("timestamp", q.timestamp);
  else if (q.offset) apiQuery.set("offset", q.offset);
  const page = await api("topics/" + encodeURIComponent(topic) + "/messages?" + apiQuery);
  const limit = +(q.limit || 50);
  const link = (offset) => "#/messages?" + new URLSearchParams({ topic, partition: page.partition, offset, limit, format });
  out.push(el("p", { class: "muted", id: "page-info" },
    `Partition ${page.partition}: log start ${page.log_start_offset}, end ${page.high_watermark}; ` +
    `showing ${page.records.length} from offset ${page.start_offset}.`));
  out.push(el("p", {},
    page.start_offset > page.log_start_offset ? el("a", { href: link(Math.max(page.log_start_offset, page.start_offset - limit)), id: "prev-page" }, "← previous") : null, " ",
    page.next_offset < page.high_watermark ? el("a", { href: link(page.next_offset), id: "next-page" }, "next →") : null));
  out.push(table(["Offset", "Timestamp", "Key", "Value", "Headers"],
    page.records.map((r) => el("tr", { "data-offset": r.offset },
      num(r.offset),
      el("td", { title: r.timestamp_type }, new Date(r.timestamp).toISOString(), el("br"), el("span", { class: "muted" }, String(r.timestamp))),
      el("td", { class: "key" }, render(r.key, format)),
      el("td", { class: "value" }, render(r.value, format)),
      el("td", { class: "headers" }, r.headers.map((h) => el("div", {}, el("b", {}, h.key + ": "), render(h.value, format === "auto" ? "text" : format)))))),
    { id: "messages-table" }));
  return out;
};

function localTime(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

pages.produce = async (rest, query) => {
  const q = params(query);
  const topics = (await api("topics")).topics.filter((t) => !t.internal);
  const result = el("p", { id: "produce-result" });
  const form = el("form", { id: "produce-form" },
    el("label", {}, "Topic", el("select", { name: "topic" },
      topics.map((t) => el("option", { value: t.name, selected: t.name === q.topic }, t.name)))),
    el("label", {}, "Partition", el("input", { name: "partition", type: "number", min: 0, value: 0, style: "width:6em" })),
    el("label", {}, "Key (empty: null)", el("input", { name: "key" })),
    el("label", {}, "Value", el("textarea", { name: "value" })),
    el("label", {}, "Headers (name=value per line)", el("textarea", { name: "headers" })),
    el("button", { type: "submit" }, "Produce"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const headers = String(f.get("headers")).split("\n").filter((l) => l.trim() !== "").map((l) => {
      const at = l.indexOf("=");
      return at < 0 ? { key: l, value: null } : { key: l.slice(0, at), value: l.slice(at + 1) };
    });
    const body = { partition: +f.get("partition"), key: f.get("key") === "" ? null : f.get("key"), value: f.get("value"), headers };
    result.replaceChildren("Producing…");
    try {
      const r = await api("topics/" + encodeURIComponent(f.get("topic")) + "/produce",
        { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      result.replaceChildren(el("span", { class: "ok" }, `Produced to ${r.topic}-${r.partition} at offset `),
        el("span", { id: "produced-offset" }, String(r.offset)), " ",
        el("a", { href: "#/messages?" + new URLSearchParams({ topic: r.topic, partition: r.partition, offset: r.offset }) }, "see it"));
    } catch (err) {
      result.replaceChildren(el("span", { class: "error" }, err.message));
    }
  });
  return [el("h1", {}, "Produce a test message"),
    el("p", { class: "muted" }, "One record, appended by the broker through the same path as a Produce request."),
    form, result];
};

// Lag samples per group, taken in the page every few seconds while the groups page is open:
// at most SAMPLES per group, the oldest dropped first.
const SAMPLES = 100;
const lagHistory = new Map();

function recordLag(groups, at) {
  for (const g of groups) {
    const h = lagHistory.get(g.group) || [];
    h.push([at, g.lag]);
    if (h.length > SAMPLES) h.splice(0, h.length - SAMPLES);
    lagHistory.set(g.group, h);
  }
}

function chart(samples) {
  const w = 360, h = 90, pad = 24;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  const max = Math.max(1, ...samples.map((s) => s[1]));
  const t0 = samples[0][0], t1 = Math.max(t0 + 1, samples[samples.length - 1][0]);
  const pts = samples.map(([t, v]) =>
    (pad + (w - 2 * pad) * (t - t0) / (t1 - t0)).toFixed(1) + "," + (h - pad / 2 - (h - pad) * v / max).toFixed(1));
  const line = document.createElementNS(svg.namespaceURI, "polyline");
  line.setAttribute("points", samples.length === 1 ? pts[0] + " " + (w - pad) + "," + pts[0].split(",")[1] : pts.join(" "));
  svg.append(line);
  const label = (x, y, text) => {
    const t = document.createElementNS(svg.namespaceURI, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.textContent = text;
    svg.append(t);
  };
  label(2, 10, "lag " + max);
  label(2, h - 2, "0");
  label(w - 80, h - 2, Math.round((t1 - t0) / 1000) + " s shown");
  return svg;
}

pages.groups = async () => {
  const r = await api("groups");
  recordLag(r.groups, r.sampled_at_ms);
  const out = [el("h1", {}, "Consumer groups"),
    el("p", { class: "muted" }, "Refreshed every 3 s; the chart covers the time this page has been open.")];
  if (r.groups.length === 0) out.push(el("p", {}, "No groups."));
  for (const g of r.groups) {
    out.push(el("div", { class: "group", "data-group": g.group },
      el("h2", {}, g.group, " ", el("span", { class: "tag state" }, g.state), " ",
        el("span", { class: "muted" }, "total lag "), el("span", { class: "total-lag" }, String(g.lag))),
      el("p", { class: "muted" }, (g.protocol_type || "no protocol type") + (g.protocol ? " / " + g.protocol : "")),
      chart(lagHistory.get(g.group) || [[r.sampled_at_ms, g.lag]]),
      el("h3", {}, "Members"),
      g.members.length === 0 ? el("p", { class: "muted" }, "none") :
        table(["Member", "Client id", "Host", "Assignment"], g.members.map((m) => el("tr", { "data-client-id": m.client_id },
          el("td", {}, m.member_id), el("td", {}, m.client_id), el("td", {}, m.host),
          el("td", { class: "assignment" }, m.assignment.map((a) => a.topic + ": " + a.partitions.join(", ")).join("; "))))),
      el("h3", {}, "Offsets and lag"),
      table(["Topic", "Partition", "Committed", "End offset", "Lag"], g.offsets.map((o) =>
        el("tr", { "data-topic": o.topic, "data-partition": o.partition },
          el("td", {}, o.topic), num(o.partition), num(o.committed), num(o.end_offset),
          el("td", { class: "num lag" }, String(o.lag)))))));
  }
  return out;
};

pages.acls = async () => {
  const r = await api("acls");
  return [el("h1", {}, "ACLs"),
    el("p", { class: "muted" }, r.authorizer ? "The authorizer is on." : "No authorizer configured: ACLs are kept but not enforced."),
    r.acls.length === 0 ? el("p", {}, "No ACLs.") :
      table(["Resource", "Name", "Pattern", "Principal", "Host", "Operation", "Permission"], r.acls.map((a) => el("tr", {},
        el("td", {}, a.resource_type), el("td", {}, a.resource_name), el("td", {}, a.pattern_type), el("td", {}, a.principal),
        el("td", {}, a.host), el("td", {}, a.operation), el("td", {}, a.permission))))];
};

// ----- routing ------------------------------------------------------------------------------------

let refresh = null;

async function show() {
  clearTimeout(refresh);
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const [name, ...rest] = path.split("/");
  const page = pages[name || "overview"] ? (name || "overview") : "overview";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  try {
    const content = await pages[page](rest.join("/"), query);
    main.replaceChildren(...content);
    main.dataset.loaded = page;
  } catch (err) {
    main.replaceChildren(el("p", { class: "error", id: "page-error" }, err.message));
    main.dataset.loaded = "error";
  }
  if (page === "groups") refresh = setTimeout(show, 3000);
}

window.addEventListener("hashchange", show);
show();
