// A claim's page: upload evidence (POST /v1/files, then /v1/claims/{id}/evidence, and /documents when it
// is what the carrier asked for), file the
// claim, record what the carrier said and its payouts. Each change goes through the claims API with the
// session; then the server-rendered parts (#claim-live, #claim-actions) are fetched again. Our own code.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  function live() { return $("claim-live"); }
  function actions() { return $("claim-actions"); }
  function shown(id) { const node = $(id); return node ? node.getAttribute("data-status") : ""; }
  function claimPath() { return "/v1/claims/" + encodeURIComponent(live().getAttribute("data-claim-id")); }

  function say(text) {
    $("claim-error").hidden = true;
    $("claim-message").textContent = text;
  }

  function fail(text, control) {
    const box = $("claim-error");
    box.textContent = text;
    box.hidden = false;
    $("claim-message").textContent = "";
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
  }

  class Invalid extends Error {
    constructor(control, message) { super(message); this.control = control; }
  }

  // "12.5" → 1250 fen; Invalid for anything but a plain amount with at most two decimals.
  function fen(control, required) {
    const text = control.value.trim();
    if (!text && !required) return null;
    if (!/^\d+(\.\d{1,2})?$/.test(text)) throw new Invalid(control, lanjie.L("js.claims.bad_money"));
    const [whole, cents] = text.split(".");
    return Number(whole) * 100 + Number((cents || "").padEnd(2, "0"));
  }

  // The shop's UTC offset on a date ("+08:00"), so a payout's date is that day in the shop's time zone.
  function offset(date, zone) {
    try {
      const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
        .formatToParts(new Date(date + "T12:00:00Z")).find((p) => p.type === "timeZoneName").value;
      const found = /GMT([+-]\d{2}:\d{2})/.exec(name);
      return found ? found[1] : "+00:00";
    } catch (_) {
      return "+00:00";
    }
  }

  let busy = false;

  // One change at a time: a second click while the first is on its way (or the parts are being fetched
  // again) is ignored, so no form is submitted from a part that is about to be replaced.
  async function act(work, done) {
    if (busy) return;
    busy = true;
    actions().setAttribute("aria-busy", "true");
    document.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
    try {
      await work();
      await Promise.all([lanjie.refresh(live()), lanjie.refresh(actions())]);
      say(lanjie.L(done));
    } catch (err) {
      if (err instanceof Invalid) fail(err.message, err.control);
      else fail(lanjie.L("js.error") + ((err.problem && err.problem.detail) || err.message));
    } finally {
      busy = false;
      actions().removeAttribute("aria-busy");
    }
  }

  async function upload() {
    const input = $("evidence-file");
    const file = input.files && input.files[0];
    if (!file) throw new Invalid(input, lanjie.L("js.claims.no_file"));
    say(lanjie.L("js.claims.uploading"));
    const stored = await lanjie.api("POST", "/v1/files?name=" + encodeURIComponent(file.name), file);
    await lanjie.api("POST", claimPath() + "/evidence", { file_ids: [stored.id] });
    const asDocuments = $("evidence-as-documents");
    if (asDocuments && asDocuments.checked) {
      await lanjie.api("POST", claimPath() + "/documents", { file_ids: [stored.id] });
    }
  }

  async function fileClaim(button) {
    const via = button.getAttribute("data-via");
    const ref = $("claim-carrier-ref");
    await lanjie.api("POST", claimPath() + "/file", { via, carrier_ref: ref ? ref.value.trim() : "" });
  }

  async function changeStatus(form) {
    const status = form.elements.status.value;
    const note = form.elements.note.value.trim();
    if (status === "closed") {
      await lanjie.api("POST", claimPath() + "/close", { note });
      return;
    }
    const documents = form.elements.documents.value.split("\n").map((d) => d.trim()).filter(Boolean);
    await lanjie.api("POST", claimPath() + "/status", {
      status, approved_fen: fen(form.elements.approved, false), message: note, documents,
    });
  }

  async function payout(form) {
    const amount = fen(form.elements.amount, true);
    const reference = form.elements.reference.value.trim();
    if (!reference) throw new Invalid(form.elements.reference, lanjie.L("js.claims.need_reference"));
    const date = form.elements.date.value;
    if (!date) throw new Invalid(form.elements.date, lanjie.L("js.claims.need_date"));
    const paidAt = date + "T00:00:00" + offset(date, form.getAttribute("data-timezone") || "Asia/Shanghai");
    await lanjie.api("POST", claimPath() + "/payouts", { amount_fen: amount, reference, paid_at: paidAt });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const node = actions();
    if (!node) return;
    // A live event re-renders the facts; the forms follow only when the status they were made for changed.
    live().addEventListener("lanjie:refreshed", () => {
      if (shown("claim-status-badge") !== shown("claim-actions-state")) lanjie.refresh(node);
    });
    node.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.id === "evidence-upload") act(upload, "js.claims.uploaded");
      if (button.id === "claim-file") act(() => fileClaim(button), "js.claims.filed");
    });
    node.addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      if (form.id === "claim-status") act(() => changeStatus(form), "js.claims.saved");
      if (form.id === "claim-payout") act(() => payout(form), "js.claims.saved");
    });
  });
})();
