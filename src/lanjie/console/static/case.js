// One case: the 拦截 button, its preview, and the carrier's answer the moment the event arrives.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let caseId = "";
  let vocabulary = {};
  let waiting = new Set();  // the intercepts this page asked for, until the carrier answers each
  const early = [];  // intercept events that arrived before the request's own answer

  function word(kind, value) {
    const words = vocabulary[kind] || {};
    return words[value] || value || "";
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function showError(text) {
    const node = $("intercept-error");
    node.textContent = text;
    node.hidden = !text;
  }

  function parcelItem(p) {
    const li = el("li");
    li.dataset.waybill = p.waybill_no;
    li.dataset.canIntercept = String(p.can_intercept);
    li.appendChild(el("strong", p.waybill_no + " · " + word("carrier", p.carrier.split(":").pop()) + " · " +
      word("tracking", p.tracking_status)));
    li.appendChild(el("div", p.can_intercept ? lanjie.L("js.case.can")
      : lanjie.L("js.case.cannot") + word("intercept_reason", p.reason), p.can_intercept ? "notice" : "error"));
    const fee = p.fee_fen === null || p.fee_fen === undefined ? lanjie.L("js.case.fee_unknown") : lanjie.money(p.fee_fen);
    li.appendChild(el("div", lanjie.L("js.case.fee") + fee, "fee"));
    li.appendChild(el("div", lanjie.L("js.case.payer") + word("fee_payer", p.fee_payer), "payer"));
    if (p.carrier_check && p.carrier_check.status === "unavailable") {
      li.appendChild(el("div", lanjie.L("js.case.carrier_unavailable") + p.carrier_check.message, "muted"));
    }
    li.appendChild(el("div", lanjie.L("js.case.items") + p.items.map((i) => i.name + " × " + i.qty).join(", ")));
    if (p.shared_with_other_items) {
      li.appendChild(el("div", lanjie.L("js.case.other_items") + lanjie.money(p.other_items_value_fen), "other-items"));
    }
    return li;
  }

  async function preview() {
    const panel = $("intercept-preview");
    const list = $("intercept-parcels");
    showError("");
    setResult("", lanjie.L("js.case.previewing"));
    try {
      const answer = await lanjie.api("POST", "/v1/aftersales/" + encodeURIComponent(caseId) + "/intercept-preview");
      list.replaceChildren(...answer.parcels.map(parcelItem));
      const offered = new Set(answer.parcels.filter((p) => p.can_intercept).flatMap((p) => p.intercept_types || []));
      for (const option of $("intercept-type").options) option.disabled = offered.size > 0 && !offered.has(option.value);
      $("intercept-confirm").disabled = !answer.parcels.some((p) => p.can_intercept);
      panel.hidden = false;
      setResult("", "");
      $("intercept-type").focus();
    } catch (err) {
      setResult("error", lanjie.L("js.error") + err.message);
    }
  }

  function setResult(state, text) {
    const node = $("intercept-result");
    node.dataset.state = state;
    node.textContent = text;
  }

  function answerText(event) {
    const p = event.payload || {};
    switch (event.type) {
      case "intercept.submitted": return ["submitted", lanjie.L("js.case.accepted")];
      case "intercept.refused": return ["refused", lanjie.L("js.case.refused") + word("intercept_reason", p.reason)];
      case "intercept.failed": return ["failed", lanjie.L("js.case.failed") + word("intercept_reason", p.reason)];
      case "intercept.succeeded": return ["succeeded", lanjie.L("js.case.succeeded")];
      case "intercept.unknown": return ["unknown", lanjie.L("js.case.unknown")];
      case "intercept.cancelled": return ["cancelled", lanjie.L("js.case.cancelled")];
      default: return null;
    }
  }

  function onAnswer(event) {
    if (event.aftersale_id !== caseId || event.subject_type !== "intercept") return;
    if (waiting.size === 0) { early.push(event); return; }
    if (!waiting.has(event.subject_id)) return;
    const answer = answerText(event);
    if (answer) setResult(answer[0], answer[1]);
  }

  async function confirm() {
    const type = $("intercept-type").value;
    const body = { type };
    if (type === "redirect") {
      const address = { name: $("redirect-name").value.trim(), phone: $("redirect-phone").value.trim(),
        address: $("redirect-address").value.trim() };
      if (!address.name || !address.phone || !address.address) {
        showError(lanjie.L("js.case.address_needed"));
        $("redirect-name").focus();
        return;
      }
      body.address = address;
    }
    showError("");
    $("intercept-confirm").disabled = true;
    try {
      const answer = await lanjie.api("POST", "/v1/aftersales/" + encodeURIComponent(caseId) + "/intercepts", body);
      waiting = new Set(answer.intercepts.map((i) => i.id));
      setResult("requested", lanjie.L("js.case.requested"));
      $("intercept-preview").hidden = true;
      $("intercept-button").disabled = true;
      for (const event of early.splice(0)) onAnswer(event);
    } catch (err) {
      showError(lanjie.L("js.error") + err.message);
      $("intercept-confirm").disabled = false;
    }
  }

  function syncButton() {
    // After a live refresh: the fragment says whether a parcel can be intercepted now, and if not why.
    const state = $("case-state");
    if (!state) return;
    const blocked = state.dataset.blocked || "";
    $("intercept-button").disabled = Boolean(blocked);
    const reason = $("intercept-blocked");
    reason.textContent = blocked;
    reason.hidden = !blocked;
    if (blocked) $("intercept-button").setAttribute("aria-describedby", "intercept-blocked");
    else $("intercept-button").removeAttribute("aria-describedby");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const panel = $("intercept-panel");
    if (!panel) return;
    caseId = panel.dataset.caseId;
    vocabulary = JSON.parse(($("case-vocabulary") || {}).textContent || "{}");
    lanjie.onEvent(onAnswer);
    $("intercept-button").addEventListener("click", preview);
    $("intercept-confirm").addEventListener("click", confirm);
    $("intercept-type").addEventListener("change", () => {
      $("intercept-address").hidden = $("intercept-type").value !== "redirect";
    });
    document.addEventListener("lanjie:refreshed", syncButton);
  });
})();
