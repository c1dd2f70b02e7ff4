// The rules page: add, remove and reorder rules; save them (PUT /v1/rules and /v1/shop/settlement-policy);
// replay the rules as edited over past cases (POST /v1/rules/dry-run). Our own code, no framework.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  function page() {
    const node = $("rules-page");
    return node ? JSON.parse(node.textContent || "{}") : {};
  }

  function rules() { return Array.from(document.querySelectorAll("#rules-list [data-rule]")); }

  // Ids, labels and button names follow a rule's place: renumber after every change.
  function renumber() {
    rules().forEach((node, i) => {
      const n = i + 1;
      node.querySelectorAll("[id]").forEach((el) => { el.id = el.id.replace(/^rule-[^-]+-/, "rule-" + i + "-"); });
      node.querySelectorAll("[for]").forEach((el) => {
        el.htmlFor = el.htmlFor.replace(/^rule-[^-]+-/, "rule-" + i + "-");
      });
      node.querySelectorAll("[aria-describedby]").forEach((el) => {
        el.setAttribute("aria-describedby", el.getAttribute("aria-describedby").replace(/^rule-[^-]+-/, "rule-" + i + "-"));
      });
      node.querySelector("[data-rule-title]").textContent = lanjie.fill(lanjie.L("js.rules.rule"), { n });
      node.querySelectorAll("button[data-action]").forEach((b) => {
        b.setAttribute("aria-label", lanjie.fill(b.getAttribute("data-label"), { n }));
      });
    });
    $("rules-empty").hidden = rules().length > 0;
  }

  function addRule() {
    const template = $("rule-template");
    const copy = template.content.cloneNode(true);
    $("rules-list").appendChild(copy);
    renumber();
    const added = rules()[rules().length - 1];
    added.querySelector('[data-field="name"]').focus();
  }

  function onAction(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const node = button.closest("[data-rule]");
    const action = button.getAttribute("data-action");
    if (action === "remove") {
      const next = node.nextElementSibling || node.previousElementSibling;
      node.remove();
      renumber();
      (next ? next.querySelector('[data-field="name"]') : $("rule-add")).focus();
      return;
    }
    if (action === "up" && node.previousElementSibling) node.parentNode.insertBefore(node, node.previousElementSibling);
    if (action === "down" && node.nextElementSibling) node.parentNode.insertBefore(node.nextElementSibling, node);
    renumber();
    button.focus();
  }

  class Invalid extends Error {
    constructor(field, message) { super(message); this.field = field; }
  }

  // The rule as the API takes it; Invalid names the control at fault.
  function collect(node) {
    const field = (name) => node.querySelector('[data-field="' + name + '"]');
    const name = field("name").value.trim();
    if (!name || name.length > 100) throw new Invalid(field("name"), lanjie.L("js.rules.bad_name"));
    const fee = field("fee_ceiling").value.trim();
    if (fee && !/^\d+(\.\d{1,2})?$/.test(fee)) throw new Invalid(field("fee_ceiling"), lanjie.L("js.rules.bad_money"));
    const [whole, cents] = fee.split(".");
    return {
      name,
      enabled: field("enabled").checked,
      channels: field("channels").value.split(/[\s,，]+/).filter(Boolean),
      conditions: Array.from(node.querySelectorAll("[data-condition]")).filter((c) => c.checked)
        .map((c) => c.getAttribute("data-condition")),
      intercept_type: field("intercept_type").value,
      service_hours: { opens: field("opens").value, closes: field("closes").value },
      fee_ceiling_fen: fee ? Number(whole) * 100 + Number((cents || "").padEnd(2, "0")) : null,
      fallback: field("fallback").value,
    };
  }

  function edited() {
    const margin = $("deadline-margin").value.trim();
    if (!/^\d+$/.test(margin) || Number(margin) > 10080) throw new Invalid($("deadline-margin"), lanjie.L("js.rules.bad_margin"));
    return { rules: rules().map(collect), deadline_margin_minutes: Number(margin) };
  }

  function clearErrors() {
    const box = $("rules-error");
    box.hidden = true;
    box.textContent = "";
    document.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function labelOf(control) {
    const label = control && control.id ? document.querySelector('label[for="' + control.id + '"]') : null;
    const node = control && control.closest("[data-rule]");
    const where = node ? node.querySelector("[data-rule-title]").textContent + " · " : "";
    return where + (label ? label.textContent : "");
  }

  function showError(text, control) {
    const box = $("rules-error");
    box.textContent = text;
    box.hidden = false;
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
  }

  // An API problem names the field ("rules.1.fee_ceiling_fen", or the rule "rules.name"): say which.
  function showProblem(err) {
    const problem = err.problem || {};
    const errors = problem.errors || [];
    const first = errors[0];
    let control = null;
    let text = problem.detail || err.message;
    if (first && first.field) {
      const parts = first.field.split(".");
      const key = parts.find((p) => lanjie.L("js.rules.field." + p) !== "js.rules.field." + p);
      const index = parts[0] === "rules" && /^\d+$/.test(parts[1] || "") ? Number(parts[1]) : null;
      const where = index !== null ? lanjie.fill(lanjie.L("js.rules.rule"), { n: index + 1 }) + " · " : "";
      text = where + (key ? lanjie.L("js.rules.field." + key) : first.field) + ": " + first.message;
      if (index !== null && rules()[index]) {
        const name = key === "fee_ceiling_fen" ? "fee_ceiling" : key;
        control = rules()[index].querySelector('[data-field="' + name + '"]');
      }
    } else if (problem.rule && problem.rule.startsWith("rules.")) {
      const key = problem.rule.slice(6);
      text = lanjie.L("js.rules.field." + key) + ": " + problem.detail;
    }
    showError(lanjie.L("js.error") + text, control);
  }

  function guarded(fn) {
    return async (event) => {
      if (event) event.preventDefault();
      clearErrors();
      try {
        await fn();
      } catch (err) {
        if (err instanceof Invalid) showError(labelOf(err.field) + ": " + err.message, err.field);
        else showProblem(err);
      }
    };
  }

  async function save() {
    const body = edited();
    $("rules-status").textContent = lanjie.L("js.rules.saving");
    await lanjie.api("PUT", "/v1/rules", body);
    await lanjie.api("PUT", "/v1/shop/settlement-policy", { settlement_policy: $("settlement-policy").value });
    $("rules-status").textContent = lanjie.L("js.rules.saved");
  }

  function when(iso, zone) {
    if (!iso) return "—";
    const parts = {};
    new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(iso))
      .forEach((p) => { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  async function dryRun() {
    const body = edited();
    $("rules-status").textContent = lanjie.L("js.rules.running");
    const report = await lanjie.api("POST", "/v1/rules/dry-run", { rules: body.rules });
    const zone = page().timezone || "Asia/Shanghai";
    const tbody = document.querySelector("#dry-run-results tbody");
    tbody.textContent = "";
    for (const row of report.cases) {
      const tr = document.createElement("tr");
      tr.setAttribute("data-case-id", row.case_id);
      const link = document.createElement("a");
      link.href = "/console/cases/" + encodeURIComponent(row.case_id);
      link.textContent = row.case_id;
      cell(tr, "").appendChild(link);
      cell(tr, row.order_id);
      cell(tr, when(row.created_at, zone));
      const badge = document.createElement("span");
      badge.className = "badge " + ({ intercept: "ok", wait: "warn", skip: "" }[row.verdict] || "");
      badge.textContent = lanjie.L("js.rules.verdict." + row.verdict);
      cell(tr, "").appendChild(badge);
      cell(tr, row.rule || "—");
      const reason = row.reason ? lanjie.L("js.rules.reason." + row.reason) : "";
      cell(tr, reason === "js.rules.reason." + row.reason ? row.reason : reason || "—");
      cell(tr, lanjie.L(row.actual.intercepted ? "js.rules.yes" : "js.rules.no"));
      tbody.appendChild(tr);
    }
    const v = report.summary.verdicts;
    $("dry-run-summary").textContent = report.cases.length === 0 ? lanjie.L("js.rules.no_cases") :
      lanjie.fill(lanjie.L("js.rules.summary"), { cases: report.summary.cases, intercept: v.intercept, wait: v.wait,
        skip: v.skip, agreed: report.summary.agreed_with_what_happened });
    $("rules-status").textContent = "";
    $("dry-run").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("rules-dry-run").addEventListener("click", guarded(dryRun));  // an agent may try the saved rules too
    if (!page().editable) return;
    $("rule-add").addEventListener("click", addRule);
    $("rules-list").addEventListener("click", onAction);
    $("rules-form").addEventListener("submit", guarded(save));
    renumber();
  });
})();
