// lanjie returns receiving (退货入库): scan → find the case → count and inspect → receive → next parcel.
// Talks to /v1 with the console session through lanjie.api (console.js); words come from lanjie.L.
"use strict";

const $ = (id) => document.getElementById(id);
const L = (key) => window.lanjie.L("js.receiving." + key);
const WAYBILL = /^[A-Za-z0-9-]{4,40}$/;
let current = null;  // {waybill, parcel, counts: {sku: n}, inspection, photos: [{id, name}], uploads, idem}

// The domain's words (case and return statuses, couriers) in the page's language, from the server.
const VOCAB = JSON.parse(($("receiving-vocab") || {}).textContent || "{}");
const word = (kind, value) => ((VOCAB[kind] || {})[value]) || value;
const courier = (carrier) => word("carrier", String(carrier).split(":").pop());
const shopTime = () => new Date().toLocaleTimeString(document.documentElement.lang,
  { timeZone: document.body.dataset.timezone, hour12: false });

function say(text) { $("message").textContent = text; $("error").textContent = ""; }
function fail(text) { $("error").textContent = text; }

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function refused(err) {  // an API error as the operator reads it
  if (err.status === 401) return L("signed_out");
  return window.lanjie.L("js.error") + err.message;
}

// ------------------------------------------------------------------ scan and lookup
async function lookup(event) {
  event.preventDefault();
  const waybill = $("scan").value.trim();
  if (!WAYBILL.test(waybill)) { fail(L("bad_waybill") + waybill); $("scan").select(); return; }
  say(L("looking_up") + waybill);
  let found;
  try {
    found = await window.lanjie.api("GET", "/v1/receiving/lookup?waybill_no=" + encodeURIComponent(waybill));
  } catch (err) {
    if (err.status === 404) clearParcel();
    $("message").textContent = "";
    fail(err.status === 404 ? L("not_found") + waybill : refused(err));
    $("scan").select();
    return;
  }
  show(waybill, found);
}

function show(waybill, found) {
  const parcel = found.parcels.find((p) => p.scanned);
  const leg = parcel.return;
  current = { waybill, parcel, counts: {}, inspection: null, photos: [], uploads: 0,
              idem: window.lanjie.newKey() };
  for (const item of parcel.items) current.counts[item.sku] = item.expected;

  $("parcel-title").textContent = `${L("waybill")} ${parcel.waybill_no}` +
    (found.matched_by === "return_waybill_no" ? ` (${L("return_no")} ${waybill})` : "");
  const facts = [
    [L("case"), found.case.id], [L("order"), found.case.order_id],
    [L("status"), word("case_status", found.case.status)], [L("refund"), window.lanjie.money(found.case.refund_fen)],
    [L("carrier"), courier(parcel.carrier)],
    [L("return"), leg ? word("return_status", leg.status) : L("no_intercept")],
    [L("goods"), window.lanjie.money(parcel.value_fen)],
  ];
  if (found.parcels.length > 1) {
    facts.push([L("other_parcels"), found.parcels.filter((p) => !p.scanned)
      .map((p) => `${p.waybill_no} (${p.return ? word("return_status", p.return.status) : "-"})`).join(", ")]);
  }
  $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  $("items").replaceChildren(...parcel.items.map(itemRow));
  for (const b of document.querySelectorAll(".choice")) b.setAttribute("aria-pressed", "false");
  $("damaged-box").hidden = true;
  $("damaged-value").value = "";
  $("note").value = "";
  $("photos").value = "";
  $("photo-list").replaceChildren();
  $("parcel").hidden = false;

  const received = leg && leg.status === "received";
  $("submit").disabled = received;
  if (received) {
    $("message").textContent = "";
    fail(`${L("already")}${L("inspection." + leg.inspection)}, ${new Date(leg.received_at).toLocaleString()}`);
    $("scan").select();
    return;
  }
  say(`${L("found")}${L("case")} ${found.case.id}`);
  document.querySelector(".choice.ok").focus();
}

function itemRow(item) {
  const tr = el("tr");
  tr.append(el("td", item.sku), el("td", item.name), el("td", String(item.expected), { class: "num" }));
  const cell = el("td");
  const input = el("input", null, { type: "number", min: "0", max: String(item.expected), inputmode: "numeric",
                                    "aria-label": `${L("received_label")} ${item.sku}`, class: "count" });
  input.value = String(item.expected);
  const minus = el("button", "−", { type: "button", "aria-label": `${L("one_fewer")} ${item.sku}` });
  const plus = el("button", "+", { type: "button", "aria-label": `${L("one_more")} ${item.sku}` });
  const set = (n) => {
    const value = Math.max(0, Math.min(item.expected, Number.isFinite(n) ? Math.trunc(n) : item.expected));
    current.counts[item.sku] = value;
    input.value = String(value);
    tr.classList.toggle("missing", value < item.expected);
    const missing = Object.entries(current.counts).some(([sku, count]) =>
      count < current.parcel.items.find((i) => i.sku === sku).expected);
    if (missing && current.inspection !== "damaged") choose("short", false);
    if (!missing && current.inspection === "short") choose("ok", false);
  };
  minus.addEventListener("click", () => set(current.counts[item.sku] - 1));
  plus.addEventListener("click", () => set(current.counts[item.sku] + 1));
  input.addEventListener("change", () => set(Number(input.value)));
  cell.append(minus, input, plus);
  tr.append(cell);
  return tr;
}

// ------------------------------------------------------------------ inspection
function choose(inspection, moveFocus) {
  if (!current) return;
  current.inspection = inspection;
  for (const b of document.querySelectorAll(".choice")) {
    b.setAttribute("aria-pressed", String(b.dataset.inspection === inspection));
  }
  $("damaged-box").hidden = inspection !== "damaged";
  if (!moveFocus) return;
  if (inspection === "damaged") $("damaged-value").focus();
  else if (inspection === "short") { const first = document.querySelector("#items .count"); if (first) first.focus(); }
  else $("submit").focus();
}

// ------------------------------------------------------------------ photos (POST /v1/files)
async function upload(files) {
  for (const file of files) {
    const parcel = current;
    parcel.uploads += 1;
    say(L("uploading") + file.name);
    try {
      const stored = await window.lanjie.api("POST", "/v1/files?name=" + encodeURIComponent(file.name), file);
      if (parcel !== current) continue;  // the operator moved on to another parcel meanwhile
      if (!parcel.photos.some((p) => p.id === stored.id)) parcel.photos.push({ id: stored.id, name: file.name });
      renderPhotos();
      say(L("uploaded") + file.name);
    } catch (err) {
      fail(err.status === 404 || err.status === 405 ? L("upload_unavailable") : `${file.name}: ${refused(err)}`);
    } finally {
      parcel.uploads -= 1;
    }
  }
}

function renderPhotos() {
  $("photo-list").replaceChildren(...current.photos.map((photo) => {
    const li = el("li", photo.name + " ");
    const remove = el("button", L("remove"), { type: "button", "aria-label": `${L("remove_photo")} ${photo.name}` });
    remove.addEventListener("click", () => {
      current.photos = current.photos.filter((p) => p !== photo);
      renderPhotos();
    });
    li.append(remove);
    return li;
  }));
}

// ------------------------------------------------------------------ receive
function damagedFen() {  // the damaged value typed in yuan, as fen; null when empty, NaN when malformed
  const value = $("damaged-value").value.trim();
  if (!value) return null;
  if (!/^\d+(\.\d{1,2})?$/.test(value) || Number(value) <= 0) return NaN;
  const [whole, cents = ""] = value.split(".");
  return Number(whole) * 100 + Number(cents.padEnd(2, "0"));
}

async function receive() {
  if (!current || $("submit").disabled) return;
  if (!current.inspection) { fail(L("choose")); document.querySelector(".choice.ok").focus(); return; }
  if (current.uploads > 0) { fail(L("still_uploading")); return; }
  const body = { waybill_no: current.waybill, inspection: current.inspection, note: $("note").value.trim(),
                 photos: current.photos.map((p) => p.id),
                 items: current.parcel.items.filter((i) => current.counts[i.sku] !== i.expected)
                   .map((i) => ({ sku: i.sku, received: current.counts[i.sku] })) };
  if (current.inspection === "damaged") {
    const fen = damagedFen();
    if (Number.isNaN(fen)) { fail(L("bad_value")); $("damaged-value").focus(); return; }
    if (fen !== null) body.damaged_value_fen = fen;
  }
  $("submit").disabled = true;
  try {
    const done = await window.lanjie.api("POST", "/v1/receiving", body, { idempotencyKey: current.idem });
    const claim = done.claim_id ? ` · ${L("claim_drafted")} ${done.claim_id}` : "";
    const line = `${current.parcel.waybill_no} · ${L("inspection." + done.return.inspection)} · ` +
      `${L("case")} ${done.case.id} ${word("case_status", done.case.status)}${claim}`;
    $("done").prepend(el("li", `${shopTime()}  ${line}`));
    $("done-empty").hidden = true;
    clearParcel();
    say(`${L("done")}${line} — ${L("next")}`);
  } catch (err) {
    fail(refused(err));
    $("submit").disabled = false;
  }
}

function clearParcel() {
  current = null;
  $("parcel").hidden = true;
  $("scan").value = "";
  $("scan").focus();
}

// ------------------------------------------------------------------ keyboard
function typing(target) {
  return target instanceof HTMLTextAreaElement ||
    (target instanceof HTMLInputElement && !["button", "file"].includes(target.type));
}

// 1 / 2 / 3 choose the inspection, but a keyboard-wedge scanner types a whole number within milliseconds:
// a second key inside SCANNER_MS (or any key other than 1-3) is a new scan, and goes into the scan box.
const SCANNER_MS = 80;
let burst = "";
let burstTimer = null;

document.addEventListener("keydown", (event) => {
  if (!current || $("parcel").hidden) return;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); receive(); return; }
  if (event.key === "Escape") { event.preventDefault(); clearParcel(); say(L("cancelled")); return; }
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key.length !== 1 || event.key === " ") return;  // space still presses the focused button
  event.preventDefault();
  burst += event.key;
  clearTimeout(burstTimer);
  if (burst.length > 1 || !"123".includes(burst)) {
    $("scan").value = burst;
    $("scan").focus();
    burst = "";
    return;
  }
  burstTimer = setTimeout(() => {
    const pick = { 1: "ok", 2: "damaged", 3: "short" }[burst];
    burst = "";
    if (pick) choose(pick, true);
  }, SCANNER_MS);
});

document.addEventListener("DOMContentLoaded", () => {
  $("scanform").addEventListener("submit", lookup);
  for (const b of document.querySelectorAll(".choice")) {
    b.addEventListener("click", () => choose(b.dataset.inspection, true));
  }
  $("photos").addEventListener("change", () => { if (current) upload(Array.from($("photos").files)); });
  $("submit").addEventListener("click", receive);
  $("cancel").addEventListener("click", () => { clearParcel(); say(L("cancelled")); });
  $("scan").focus();
});
