// The livews console page. Every value from the server or a peer is written with textContent (never as
// HTML); the Content-Security-Policy the page is served with allows this file and the stylesheet only.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
const consolePath = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
const state = { resources: [], clients: [], history: [], socket: null, seq: 0, conns: 0 };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function clock(seconds) {
  const d = new Date(seconds * 1000);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function fillTable(id, rows, makeRow, emptyText, columns) {
  const body = document.querySelector(`#${id} tbody`);
  const fresh = rows.length ? rows.map(makeRow) : [el("tr", {}, el("td", { class: "empty", colspan: columns, text: emptyText }))];
  body.replaceChildren(...fresh);
}

function cell(text, cls) { return el("td", { text: text == null ? "" : String(text), class: cls || "" }); }

// ------------------------------------------------------------------------------------- console socket

function connect() {
  const url = wsBase + consolePath + "ws" + (token ? "?token=" + encodeURIComponent(token) : "");
  const socket = new WebSocket(url);
  state.socket = socket;
  const status = document.getElementById("status");
  let opened = false;
  socket.onopen = () => { opened = true; status.textContent = "live"; status.className = "status live"; };
  socket.onclose = (event) => {
    // A refused handshake (403) reaches a page only as a close that never opened.
    status.textContent = opened
      ? `disconnected (${event.code}${event.reason ? " " + event.reason : ""})`
      : "refused or unreachable" + (token ? "" : " (off loopback the console needs ?token=…, printed by the server)");
    status.className = "status down";
    if (event.code !== 1008) setTimeout(connect, 2000);
  };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
}

function command(action, fields) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return;
  state.socket.send(JSON.stringify({ action, seq: ++state.seq, ...fields }));
}

function receive(message) {
  if (message.type === "hello") {
    state.history = message.history;
    showResources(message.resources);
    showClients(message.clients, message.clients_total);
    document.getElementById("reports").replaceChildren();
    document.getElementById("errors").replaceChildren();
    message.reports.forEach(showReport);
    message.errors.forEach(showError);
    document.getElementById("reload").disabled = !message.reload;
    drawChart();
  } else if (message.type === "tick") {
    state.history.push(message.point);
    if (state.history.length > 300) state.history.shift();
    showResources(message.resources);
    showClients(message.clients, message.clients_total);
    drawChart();
  } else if (message.type === "report") {
    showReport(message.entry);
  } else if (message.type === "error") {
    showError(message.entry);
  } else if (message.type === "answer") {
    const answer = document.getElementById("answer");
    answer.textContent = message.text;
    answer.className = message.ok ? "answer" : "answer bad";
  }
}

// ---------------------------------------------------------------------------------------------- tables

function showResources(rows) {
  state.resources = rows;
  const shape = JSON.stringify(rows.map((r) => [r.path, r["class"], r.file, r.options]));
  if (shape === state.shape) {  // same resources: only the counts change, typed text stays
    rows.forEach((r, i) => {
      const row = document.querySelectorAll("#resources tbody tr")[i];
      if (row) row.querySelector(".count").textContent = String(r.clients);
    });
    return;
  }
  state.shape = shape;
  fillTable("resources", rows, (r) => {
    const options = Object.entries(r.options).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`).join(" ");
    const input = el("input", { placeholder: "message", "aria-label": `broadcast to ${r.path}` });
    const send = el("button", { type: "button", text: "Send", onclick: () => {
      command("broadcast", { path: r.path, message: input.value });
    } });
    return el("tr", { "data-path": r.path }, cell(r.path, "mono"), cell(r["class"]), cell(r.file, "mono"),
      cell(options, "mono"), cell(r.clients, "num count"), el("td", { class: "broadcast" }, input, send));
  }, "no resources", 6);
  const paths = rows.map((r) => r.path);
  document.getElementById("paths").replaceChildren(...paths.map((p) => el("option", { value: p })));
  const input = document.getElementById("open-path");
  if (!input.value && paths.length) input.value = paths[0];
}

function showClients(rows, total) {
  state.clients = rows;
  const more = total > rows.length ? ` (the first ${rows.length} of ${total})` : ` (${rows.length})`;
  document.getElementById("clients-count").textContent = more;
  fillTable("clients", rows, (c) => {
    const kick = el("button", { type: "button", text: "Kick", onclick: () => command("kick", { id: c.id, code: 1000, reason: "kicked from the console" }) });
    const latency = c.latency == null ? "" : (c.latency * 1000).toFixed(1) + " ms";
    return el("tr", { "data-id": c.id }, cell(c.id, "num"), cell(c.host, "mono"), cell(c.path, "mono"),
      cell(c.query, "mono"), cell(c.subprotocol || ""), cell(c.age.toFixed(0) + " s", "num"),
      cell(`${c.messages_in} / ${c.messages_out}`, "num"), cell(`${c.bytes_in} / ${c.bytes_out}`, "num"),
      cell(latency, "num"), el("td", {}, kick));
  }, "no clients", 10);
}

function addLine(list, time, cls, text, extra) {
  const item = el("li", { class: cls }, el("span", { class: "time", text: clock(time) }), el("span", { class: "text", text }));
  if (extra) item.append(el("div", { class: "mono", text: extra }));
  list.append(item);
  while (list.children.length > 200) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
}

function showReport(entry) {
  const where = !entry.ok && entry.where ? `at ${entry.where}` : "";
  addLine(document.getElementById("reports"), entry.t, entry.ok ? "report" : "report failed", entry.line,
    [where, entry.detail].filter(Boolean).join("\n"));
}

function showError(entry) {
  const who = entry.client_id ? `client #${entry.client_id} ${entry.path || ""}` : "";
  addLine(document.getElementById("errors"), entry.t, "bad", `${entry.error} (${entry.where})`,
    [entry.message, who].filter(Boolean).join("\n"));
}

// ----------------------------------------------------------------------------------------------- chart

function drawChart() {
  const canvas = document.getElementById("chart");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 900, height = canvas.clientHeight || 140;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const points = state.history.slice(-300);
  const style = getComputedStyle(document.documentElement);
  ctx.strokeStyle = "#d9dee7"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(0, height - 16.5); ctx.lineTo(width, height - 16.5); ctx.stroke();
  ctx.fillStyle = "#667085"; ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("-5 min", 2, height - 3); ctx.fillText("now", width - 24, height - 3);
  if (!points.length) return;
  const series = [["mps", style.getPropertyValue("--mps").trim()], ["connections", style.getPropertyValue("--conn").trim()]];
  series.forEach(([key, color], index) => {
    const top = Math.max(1, ...points.map((p) => p[key]));
    const x = (i) => width - (points.length - 1 - i) * (width / 299);
    const y = (v) => (height - 20) - (v / top) * (height - 34);
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(i), y(p[key])) : ctx.moveTo(x(i), y(p[key]))));
    ctx.stroke();
    ctx.fillStyle = color;
    const last = points[points.length - 1][key];
    ctx.fillText(`${key === "mps" ? "msg/s" : "conn"} ${Number.isInteger(last) ? last : last.toFixed(1)} (max ${top})`, 4 + index * 170, 12);
  });
}

// -------------------------------------------------------------------------------- try a resource

function openConnection(path, query, subprotocol) {
  const number = ++state.conns;
  const url = wsBase + path + (query ? "?" + query.replace(/^\?/, "") : "");
  const log = el("ol", { class: "log" });
  const stateLabel = el("span", { class: "state", text: "connecting" });
  const input = el("input", { placeholder: "text, or JSON for Send JSON", "aria-label": "message" });
  const card = el("div", { class: "conn-card", "data-conn": number, "data-path": path });
  let socket;
  const note = (cls, text) => addLine(log, Date.now() / 1000, cls, text);
  try {
    socket = subprotocol ? new WebSocket(url, subprotocol) : new WebSocket(url);
  } catch (error) {
    note("bad", String(error));
  }
  const sendText = () => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return note("bad", "not open");
    socket.send(input.value); note("out", "→ " + input.value);
  };
  const sendJson = () => {
    let value;
    try { value = JSON.parse(input.value); } catch (error) { return note("bad", "not JSON: " + error.message); }
    if (!socket || socket.readyState !== WebSocket.OPEN) return note("bad", "not open");
    const text = JSON.stringify(value); socket.send(text); note("out", "→ " + text);
  };
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") sendText(); });
  const buttons = el("div", { class: "send" }, input,
    el("button", { type: "button", class: "send-text", text: "Send text", onclick: sendText }),
    el("button", { type: "button", class: "send-json", text: "Send JSON", onclick: sendJson }),
    el("button", { type: "button", class: "close", text: "Close", onclick: () => socket && socket.close(1000) }),
    el("button", { type: "button", text: "Remove", onclick: () => { if (socket) socket.close(1000); card.remove(); } }));
  card.append(el("h3", {}, el("span", { class: "mono", text: `#${number} ${url}` }), stateLabel), buttons, log);
  document.getElementById("connections").prepend(card);
  if (!socket) return;
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    stateLabel.textContent = "open" + (socket.protocol ? ` (subprotocol ${socket.protocol})` : "");
    note("open", "open");
  };
  socket.onmessage = (event) => {
    const text = typeof event.data === "string" ? event.data : `<binary ${event.data.byteLength} bytes>`;
    note("in", "← " + text);
  };
  socket.onerror = () => note("bad", "error (see the close code)");
  socket.onclose = (event) => {
    stateLabel.textContent = `closed ${event.code}`;
    note(event.code === 1000 ? "closed" : "bad", `closed: ${event.code}${event.reason ? " " + event.reason : ""}`);
  };
}

document.getElementById("open-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const path = document.getElementById("open-path").value.trim();
  if (!path) return;
  openConnection(path, document.getElementById("open-query").value.trim(), document.getElementById("open-subprotocol").value.trim());
});
document.getElementById("reload").addEventListener("click", () => command("reload", {}));
window.addEventListener("resize", drawChart);
connect();
