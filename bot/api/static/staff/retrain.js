// Train and compare on /staff/review: start a run, follow its steps, show per-intent F1
// before and after and the messages whose prediction changed; deploy or roll back.
// Every value is inserted with textContent.
"use strict";

(() => {
  const { el, api } = Staff;
  const f1 = (v) => (v === null ? "–" : v.toFixed(3));
  let timer = null;

  function show(run) {
    const status = document.getElementById("retrain-status");
    status.textContent = run.status === "none" ? "" : `${run.status}${run.error ? `: ${run.error}` : ""}`;
    document.getElementById("steps").replaceChildren(
      ...(run.steps || []).map((s) => { const li = el("li", null, `${s.name}: ${s.state}`); li.dataset.state = s.state; return li; }));
    const table = document.getElementById("f1");
    table.replaceChildren();
    if (run.intents && run.intents.length) {
      const head = el("tr");
      ["intent", "F1 before", "F1 after", "change"].forEach((h) => head.appendChild(el("th", null, h)));
      table.appendChild(head);
      for (const row of run.intents) {
        const tr = el("tr");
        tr.dataset.intent = row.intent;
        const worse = run.worse.includes(row.intent);
        tr.append(el("td", null, row.intent), el("td", null, f1(row.before)), el("td", null, f1(row.after)),
          el("td", worse ? "low" : null, `${row.delta >= 0 ? "+" : ""}${row.delta.toFixed(3)}`));
        table.appendChild(tr);
      }
    }
    const changed = document.getElementById("changed");
    changed.replaceChildren();
    for (const c of run.changed || []) {
      const tr = el("tr");
      tr.append(el("td", null, c.text), el("td", "meta", `labelled ${c.intent}`),
        el("td", null, `${c.before || "none"} → ${c.after || "none"}`));
      changed.appendChild(tr);
    }
    document.getElementById("deploy").disabled = !(run.status === "done" && run.deployable);
    if (run.status === "done" && !run.deployable) {
      status.textContent = `done: not deployable, worse than ${run.margin}: ${run.worse.join(", ")}`;
    }
    if (run.status === "running" && !timer) timer = setInterval(poll, 2000);
    if (run.status !== "running" && timer) { clearInterval(timer); timer = null; }
  }

  async function poll() { show(await api("/staff/api/retrain")); }

  async function act(path, message) {
    try {
      const body = await api(path, { method: "POST" });
      if (body.steps) show(body);
      else document.getElementById("retrain-status").textContent = message(body);
    } catch (error) { document.getElementById("retrain-status").textContent = error.message; }
  }

  document.getElementById("train").addEventListener("click", () => act("/staff/api/retrain", () => ""));
  document.getElementById("deploy").addEventListener("click",
    () => act("/staff/api/retrain/deploy", (b) => `deployed; previous model ${b.replaced} kept`));
  document.getElementById("rollback").addEventListener("click",
    () => act("/staff/api/retrain/rollback", (b) => `rolled back to ${b.restored}`));
  Staff.onReady(poll);
})();
