// /staff/discover: unanswered messages grouped into proposed intents; promote one (name,
// answer) or dismiss it. Every text is inserted with textContent.
"use strict";

const { el, api } = Staff;

function cluster(c) {
  const box = el("div", "cluster");
  box.dataset.name = c.name;
  const trend = c.trend > 0.05 ? "growing" : (c.trend < -0.05 ? "shrinking" : "steady");
  box.appendChild(el("h3", null, `${c.name} · ${c.size} messages · ${trend}`));
  box.appendChild(el("div", "meta", `distinctive words: ${c.keywords.join(", ")} · per day: ${c.daily.join(" ")}`));
  const list = el("ul");
  c.representatives.forEach((text) => list.appendChild(el("li", null, text)));
  box.appendChild(list);
  const form = el("form", "filters");
  const name = el("input"); name.name = "intent"; name.value = c.name; name.maxLength = 60;
  const answer = el("input"); answer.name = "response"; answer.size = 50; answer.maxLength = 1000;
  answer.placeholder = "what the bot should answer";
  const l1 = el("label", null, "Intent name"); l1.appendChild(name);
  const l2 = el("label", null, "Answer"); l2.appendChild(answer);
  const promote = el("button", null, "Promote to intent"); promote.type = "submit";
  const dismiss = el("button", null, "Dismiss"); dismiss.type = "button";
  const done = el("span", "meta");
  form.append(l1, l2, promote, dismiss, done);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("/staff/api/clusters/promote", {
        method: "POST", body: { intent: name.value.trim(), examples: c.examples, response: answer.value },
      });
      done.textContent = ` promoted: ${r.intent} with ${r.examples} examples (train to use it)`;
      done.className = "meta ok";
      promote.disabled = dismiss.disabled = true;
    } catch (error) { done.textContent = ` ${error.message}`; done.className = "meta low"; }
  });
  dismiss.addEventListener("click", async () => {
    try {
      await api("/staff/api/clusters/dismiss", { method: "POST", body: { examples: c.examples } });
      box.remove();
    } catch (error) { done.textContent = ` ${error.message}`; done.className = "meta low"; }
  });
  box.appendChild(form);
  return box;
}

async function load() {
  const form = document.getElementById("filters");
  Staff.defaultRange(form);
  Staff.status("Grouping…", true);
  const found = await api(`/staff/api/clusters?${Staff.dates(form)}`);
  document.getElementById("summary").textContent =
    `${found.messages} unanswered messages from ${found.start} to ${found.end}; ${found.clusters.length} groups of 3 or more.`;
  document.getElementById("clusters").replaceChildren(...found.clusters.map(cluster));
  Staff.status("");
}

document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  load().catch((error) => Staff.status(error.message));
});
// Grouping embeds and clusters every message of the range: it runs when asked, not on load.
Staff.start(async () => Staff.defaultRange(document.getElementById("filters")));
