// The case list: remember the ticked cases across live refreshes, and intercept them at once.
(function () {
  "use strict";
  const picked = new Set();

  function boxes() { return Array.from(document.querySelectorAll('#cases input[name="case"]')); }

  function reapply() {
    for (const box of boxes()) box.checked = picked.has(box.value);
    const all = document.getElementById("pick-all");
    if (all) all.checked = boxes().length > 0 && boxes().every((box) => box.checked);
  }

  function reasonOf(result) {
    const problem = result.problem || {};
    const vocabulary = JSON.parse((document.getElementById("cases-vocabulary") || {}).textContent || "{}");
    const reasons = Object.assign({}, vocabulary.intercept_reason || {}, vocabulary.batch_refusal || {});
    const slug = String(problem.type || "").replace("/problems/", "");
    return reasons[problem.rule] || reasons[slug] || problem.detail || problem.title || "";
  }

  async function batch() {
    const status = document.getElementById("batch-status");
    const list = document.getElementById("batch-results");
    const ids = Array.from(picked);
    if (ids.length === 0) { status.textContent = lanjie.L("js.cases.batch_none"); return; }
    const type = document.getElementById("batch-type").value;
    const button = document.getElementById("batch-intercept");
    button.disabled = true;
    status.textContent = lanjie.L("js.cases.batch_sending");
    list.replaceChildren();
    try {
      const answer = await lanjie.api("POST", "/v1/aftersales/intercept-batch",
        { items: ids.map((id) => ({ aftersale_id: id, type })) });
      for (const result of answer.results) {
        const li = document.createElement("li");
        li.dataset.caseId = result.aftersale_id;
        li.dataset.outcome = result.result;
        const row = document.querySelector('#cases tr[data-case-id="' + CSS.escape(result.aftersale_id) + '"] .order');
        const name = row ? row.textContent.trim() : result.aftersale_id;
        li.textContent = lanjie.fill(lanjie.L("js.cases.result." + result.result),
          { order: name, reason: reasonOf(result) });
        list.appendChild(li);
      }
      status.textContent = lanjie.fill(lanjie.L("js.cases.batch_done"), answer);
      picked.clear();
      reapply();
    } catch (err) {
      status.textContent = lanjie.L("js.error") + err.message;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const box of boxes()) if (box.checked) picked.add(box.value);
    document.addEventListener("change", (event) => {
      const box = event.target;
      if (!(box instanceof HTMLInputElement)) return;
      if (box.id === "pick-all") {
        for (const one of boxes()) {
          one.checked = box.checked;
          if (box.checked) picked.add(one.value); else picked.delete(one.value);
        }
      } else if (box.name === "case") {
        if (box.checked) picked.add(box.value); else picked.delete(box.value);
        reapply();
      }
    });
    document.addEventListener("lanjie:refreshed", reapply);
    const button = document.getElementById("batch-intercept");
    if (button) button.addEventListener("click", batch);
  });
})();
