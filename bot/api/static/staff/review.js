// /staff/review: find conversations, read one with each customer message's predicted intent
// and confidence, and label a message with the right intent in one action. Every text is
// inserted with textContent.
"use strict";

const { el, api } = Staff;
const LOW = 0.5; // bot.staff.analytics.LOW_CONFIDENCE

function when(seconds) { return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " "); }

function labelForm(event) {
  const form = el("form", "label");
  const input = el("input");
  input.name = "intent";
  input.value = event.intent || "";
  input.maxLength = 60;
  input.size = 16;
  input.setAttribute("aria-label", "right intent");
  const button = el("button", null, "Label");
  button.type = "submit";
  const done = el("span", "meta");
  form.append(input, button, done);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const saved = await api("/staff/api/labels", {
        method: "POST", body: { intent: input.value.trim(), text: event.text },
      });
      done.textContent = saved.written.length ? ` saved to ${saved.file}` : " already an example";
      done.className = "meta ok";
    } catch (error) {
      done.textContent = ` ${error.message}`;
      done.className = "meta low";
    }
  });
  return form;
}

function message(event) {
  const kind = event.kind === "user" ? "user" : (event.agent ? "agent" : "bot");
  const node = el("div", `msg ${kind}`);
  node.dataset.kind = kind;
  node.appendChild(el("div", null, event.text));
  if (kind === "user") {
    const conf = event.confidence === null ? "–" : event.confidence.toFixed(2);
    const meta = el("div", "meta", `${when(event.at)} · ${event.intent || "no intent"} · `);
    meta.appendChild(el("span", event.confidence !== null && event.confidence < LOW ? "low" : null, conf));
    node.append(meta, labelForm(event));
  } else {
    node.appendChild(el("div", "meta", `${when(event.at)} · ${kind === "agent" ? `agent ${event.agent}` : "bot"}`));
  }
  return node;
}

async function open(row, tr) {
  document.querySelectorAll("#list tr.open").forEach((n) => n.classList.remove("open"));
  tr.classList.add("open");
  const t = await api(`/staff/api/conversations/${encodeURIComponent(row.conversation)}`);
  document.getElementById("title").textContent = `Transcript: ${row.conversation}`;
  document.getElementById("transcript").replaceChildren(...t.events.map(message));
}

let latest = 0; // a slower earlier answer never replaces a newer one

async function load() {
  const mine = ++latest;
  const form = document.getElementById("filters");
  Staff.defaultRange(form);
  const found = await api(`/staff/api/conversations?${Staff.dates(form)}`);
  if (mine !== latest) return;
  document.getElementById("count").textContent = `Conversations (${found.total})`;
  const list = document.getElementById("list");
  list.replaceChildren();
  for (const row of found.conversations) {
    const tr = el("tr");
    tr.dataset.conversation = row.conversation;
    const flags = [row.fallbacks ? "fell back" : "", row.handed_off ? "handed off" : "",
      row.rating !== null ? `rated ${row.rating}` : ""].filter(Boolean).join(", ");
    tr.append(el("td", "meta", when(row.started_at)), el("td", null, row.channel),
      el("td", null, row.first_message), el("td", "meta", flags));
    tr.addEventListener("click", () => open(row, tr).catch((e) => Staff.status(e.message)));
    list.appendChild(tr);
  }
  Staff.status("");
}

document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  load().catch((error) => Staff.status(error.message));
});
Staff.start(load);
