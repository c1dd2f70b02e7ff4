// lanjie returns receiving (退货入库): scan → find the case → count and inspect → receive → next parcel.
"use strict";

const $ = (id) => document.getElementById(id);
const WAYBILL = /^[A-Za-z0-9-]{4,40}$/;
let key = new URLSearchParams(location.hash.slice(1)).get("key") || localStorage.getItem("lanjie.key") || "";
let current = null;  // {waybill, parcel, counts: {sku: n}, inspection, photos: [{id, name}], uploads, idem}

const yuan = (fen) => (fen / 100).toFixed(2);
const auth = (extra) => ({ Authorization: "Bearer " + key, ...(extra || {}) });

function randomKey(prefix) {  // an Idempotency-Key; crypto.randomUUID needs a secure context, this does not
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function say(text) { $("message").textContent = text; $("error").textContent = ""; }
function fail(text) { $("error").textContent = text; }

async function problem(res) {  // the detail of an application/problem+json answer, or the status
  try {
    const body = await res.json();
    return body.detail || body.title || "HTTP " + res.status;
  } catch (e) {
    return "HTTP " + res.status;
  }
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

// ------------------------------------------------------------------ scan and lookup
async function lookup(event) {
  event.preventDefault();
  const waybill = $("scan").value.trim();
  if (!WAYBILL.test(waybill)) { fail("运单号格式不对 Not a waybill number: " + waybill); $("scan").select(); return; }
  say("查找中… Looking up " + waybill);
  let res;
  try {
    res = await fetch("/v1/receiving/lookup?waybill_no=" + encodeURIComponent(waybill), { headers: auth() });
  } catch (e) {
    fail("连接失败 Cannot reach lanjie: " + e); $("scan").select(); return;
  }
  if (res.status === 401) { askForKey(); fail("接口密钥无效 The API key was refused"); return; }
  if (res.status === 404) { clearParcel(); fail("未找到 " + waybill + " 对应的售后单 No case for this number"); $("scan").select(); return; }
  if (!res.ok) { fail(await problem(res)); $("scan").select(); return; }
  show(waybill, await res.json());
}

function show(waybill, found) {
  const parcel = found.parcels.find((p) => p.scanned);
  const leg = parcel.return;
  current = { waybill, parcel, counts: {}, inspection: null, photos: [], uploads: 0, idem: randomKey("rcv-") };
  for (const item of parcel.items) current.counts[item.sku] = item.expected;

  $("parcel-title").textContent = `运单 Waybill ${parcel.waybill_no}` +
    (found.matched_by === "return_waybill_no" ? `（退回单号 return no. ${waybill}）` : "");
  const facts = [
    ["售后单 Case", found.case.id], ["订单 Order", found.case.order_id],
    ["状态 Status", found.case.status], ["退款 Refund ¥", yuan(found.case.refund_fen)],
    ["快递 Carrier", parcel.carrier], ["退回 Return", leg ? leg.status : "无拦截 no intercept (refused at the door)"],
    ["货值 Goods ¥", yuan(parcel.value_fen)],
  ];
  if (found.parcels.length > 1) {
    facts.push(["同单其他包裹 Other parcels", found.parcels.filter((p) => !p.scanned)
      .map((p) => `${p.waybill_no} (${p.return ? p.return.status : "-"})`).join(", ")]);
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
    fail(`已入库 Already received (${leg.inspection}, ${new Date(leg.received_at).toLocaleString()})`);
    $("scan").select();
    return;
  }
  say(`找到 Found: 售后单 case ${found.case.id} · 按 1 完好 / 2 破损 / 3 少件 — press 1 ok / 2 damaged / 3 short`);
  document.querySelector(".choice.ok").focus();
}

function itemRow(item) {
  const tr = el("tr");
  tr.append(el("td", item.sku), el("td", item.name), el("td", String(item.expected)));
  const cell = el("td");
  const label = `实收 Received ${item.sku}`;
  const input = el("input", null, { type: "number", min: "0", max: String(item.expected), inputmode: "numeric",
                                    "aria-label": label, class: "count" });
  input.value = String(item.expected);
  const minus = el("button", "−", { type: "button", "aria-label": `减一 One fewer ${item.sku}` });
  const plus = el("button", "+", { type: "button", "aria-label": `加一 One more ${item.sku}` });
  const set = (n) => {
    const value = Math.max(0, Math.min(item.expected, Number.isFinite(n) ? Math.trunc(n) : item.expected));
    current.counts[item.sku] = value;
    input.value = String(value);
    tr.classList.toggle("missing", value < item.expected);
    const missing = Object.entries(current.counts).some(([sku, n]) =>
      n < current.parcel.items.find((i) => i.sku === sku).expected);
    if (missing && current.inspection !== "damaged") choose("short", false);
    if (!missing && current.inspection === "short") choose("ok", false);
  };
  minus.onclick = () => set(current.counts[item.sku] - 1);
  plus.onclick = () => set(current.counts[item.sku] + 1);
  input.onchange = () => set(Number(input.value));
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
    say(`上传中 Uploading ${file.name}…`);
    try {
      const res = await fetch("/v1/files", { method: "POST", body: file,
        headers: auth({ "Content-Type": file.type || "application/octet-stream", "Idempotency-Key": randomKey("photo-") }) });
      if (res.status === 404 || res.status === 405) { fail("照片上传暂不可用 Photo upload is not available on this server"); continue; }
      if (!res.ok) { fail(`${file.name}: ${await problem(res)}`); continue; }
      const stored = await res.json();
      if (parcel !== current) continue;  // the operator moved on to another parcel meanwhile
      if (!parcel.photos.some((p) => p.id === stored.id)) parcel.photos.push({ id: stored.id, name: file.name });
      renderPhotos();
      say(`已上传 Uploaded ${file.name}`);
    } catch (e) {
      fail(`${file.name}: ${e}`);
    } finally {
      parcel.uploads -= 1;
    }
  }
}

function renderPhotos() {
  $("photo-list").replaceChildren(...current.photos.map((photo) => {
    const li = el("li", photo.name + " ");
    const remove = el("button", "移除 Remove", { type: "button", "aria-label": `移除照片 Remove photo ${photo.name}` });
    remove.onclick = () => { current.photos = current.photos.filter((p) => p !== photo); renderPhotos(); };
    li.append(remove);
    return li;
  }));
}

// ------------------------------------------------------------------ receive
async function receive() {
  if (!current || $("submit").disabled) return;
  if (!current.inspection) { fail("请选择验货结果 Choose ok, damaged or short (1 / 2 / 3)"); document.querySelector(".choice.ok").focus(); return; }
  if (current.uploads > 0) { fail("照片仍在上传 Photos are still uploading"); return; }
  const body = { waybill_no: current.waybill, inspection: current.inspection, note: $("note").value.trim(),
                 photos: current.photos.map((p) => p.id),
                 items: current.parcel.items.filter((i) => current.counts[i.sku] !== i.expected)
                   .map((i) => ({ sku: i.sku, received: current.counts[i.sku] })) };
  if (current.inspection === "damaged" && $("damaged-value").value.trim()) {
    const value = $("damaged-value").value.trim();
    if (!/^\d+(\.\d{1,2})?$/.test(value) || Number(value) <= 0) { fail("损坏货值格式不对 Damaged value: yuan, e.g. 12.50"); $("damaged-value").focus(); return; }
    const [whole, cents = ""] = value.split(".");
    body.damaged_value_fen = Number(whole) * 100 + Number(cents.padEnd(2, "0"));
  }
  $("submit").disabled = true;
  try {
    const res = await fetch("/v1/receiving", { method: "POST", body: JSON.stringify(body),
      headers: auth({ "Content-Type": "application/json", "Idempotency-Key": current.idem }) });
    if (!res.ok) { fail(await problem(res)); $("submit").disabled = false; return; }
    const done = await res.json();
    const claim = done.claim_id ? ` · 已起草理赔 claim drafted ${done.claim_id}` : "";
    const line = `${current.parcel.waybill_no} · ${done.return.inspection} · 售后单 case ${done.case.id} ${done.case.status}${claim}`;
    $("done").prepend(el("li", `${new Date().toLocaleTimeString()}  ${line}`));
    clearParcel();
    say("已入库 Received: " + line + " — 请扫描下一件 scan the next parcel");
  } catch (e) {
    fail(String(e));
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
  if (event.key === "Escape") { event.preventDefault(); clearParcel(); say("已取消 Cancelled"); return; }
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

// ------------------------------------------------------------------ key
function askForKey() {
  $("keyform").hidden = false;
  $("key").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("scanform").addEventListener("submit", lookup);
  for (const b of document.querySelectorAll(".choice")) b.addEventListener("click", () => choose(b.dataset.inspection, true));
  $("photos").addEventListener("change", () => { if (current) upload(Array.from($("photos").files)); });
  $("submit").addEventListener("click", receive);
  $("cancel").addEventListener("click", () => { clearParcel(); say("已取消 Cancelled"); });
  $("keyform").addEventListener("submit", (event) => {
    event.preventDefault();
    key = $("key").value.trim();
    localStorage.setItem("lanjie.key", key);
    $("keyform").hidden = true;
    $("scan").focus();
  });
  if (!key) askForKey(); else $("scan").focus();
});
