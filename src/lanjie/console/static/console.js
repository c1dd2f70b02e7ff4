// The console's shared script (our own code; no framework): the API with the session's CSRF token,
// the page's messages, and live updates from the shop's event stream.
//
//   lanjie.api(method, path, body?)   → parsed JSON; throws Error with .status and .problem on failure
//   lanjie.L("js.key")                → the message in the page's language
//   lanjie.fill(text, {name: value})  → the message with its {name} fields filled in
//   lanjie.money(fen)                 → ¥1,234.56, as the server's pages show money
//   lanjie.onEvent(fn)                → fn({id, type, aftersale_id, subject_type, subject_id, payload, at})
//   <div data-fragment="/console/…" data-live-cases="cs_1 cs_2"> or data-live-any
//                                     → re-fetched (server-rendered HTML) when an event concerns it
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  const messagesNode = document.getElementById("lanjie-messages");
  const messages = messagesNode ? JSON.parse(messagesNode.textContent || "{}") : {};

  function L(key) { return Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key; }

  function fill(text, fields) {
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
  }

  function money(fen) {
    if (fen === null || fen === undefined) return "—";
    const sign = fen < 0 ? "-" : "";
    const abs = Math.abs(Math.trunc(fen));
    const yuan = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + "¥" + yuan + "." + String(abs % 100).padStart(2, "0");
  }

  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(method, path, body, options) {
    const opts = options || {};
    const headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrf }, opts.headers || {});
    if (method !== "GET" && method !== "HEAD") headers["Idempotency-Key"] = opts.idempotencyKey || newKey();
    let payload = body;
    if (body instanceof Blob) {
      headers["Content-Type"] = body.type || "application/octet-stream";
    } else if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!res.ok) {
      const err = new Error((data && (data.detail || data.title)) || res.statusText || String(res.status));
      err.status = res.status;
      err.problem = data;
      throw err;
    }
    return data;
  }

  // ---------------------------------------------------------------- live updates
  const listeners = [];
  let source = null;

  function setStatus(text, ok) {
    const node = document.getElementById("live-status");
    if (!node) return;
    node.hidden = false;
    node.textContent = text;
    node.classList.toggle("down", !ok);
  }

  function connect() {
    source = new EventSource("/v1/events?plain=true");
    source.onopen = () => setStatus(L("js.live"), true);
    source.onerror = () => setStatus(L("js.offline"), false);  // EventSource reconnects by itself
    source.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      for (const fn of listeners) {
        try { fn(event); } catch (err) { console.error(err); }
      }
    };
  }

  function onEvent(fn) {
    listeners.push(fn);
    if (!source) connect();
  }

  const pending = new Map();

  async function refresh(node) {
    const url = node.getAttribute("data-fragment");
    if (!url) return;
    const res = await fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
    if (!res.ok) return;
    const html = await res.text();
    const active = document.activeElement && document.activeElement.id;
    node.innerHTML = html;
    if (active && node.contains(document.getElementById(active))) document.getElementById(active).focus();
    node.dispatchEvent(new CustomEvent("lanjie:refreshed", { bubbles: true }));
  }

  function schedule(node, delay) {
    if (pending.has(node)) return;
    pending.set(node, setTimeout(() => { pending.delete(node); refresh(node); }, delay));
  }

  function concerns(node, event) {
    if (node.hasAttribute("data-live-any")) return true;
    const cases = (node.getAttribute("data-live-cases") || "").split(/\s+/);
    return Boolean(event.aftersale_id) && cases.includes(event.aftersale_id);
  }

  function watchFragments() {
    const nodes = () => Array.from(document.querySelectorAll("[data-fragment]"));
    if (nodes().length === 0) return;
    onEvent((event) => {
      for (const node of nodes()) {
        if (concerns(node, event)) schedule(node, node.hasAttribute("data-live-any") ? 250 : 0);
      }
    });
  }

  window.lanjie = { api, L, fill, money, onEvent, refresh, newKey, csrf };
  document.addEventListener("DOMContentLoaded", watchFragments);
})();
