// /staff/analytics: the figures of a date range and channel, a server-made SVG chart and
// the CSV link. Values are written with textContent.
"use strict";

const { el, api } = Staff;

function percent(rate) { return rate === null ? "–" : `${(100 * rate).toFixed(1)}%`; }
function seconds(s) {
  if (s === null) return "–";
  return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

function card(name, value, key) {
  const node = el("div", "card");
  node.dataset.key = key;
  node.append(el("div", "value", value), el("div", "name", name));
  return node;
}

function table(id, rows, header) {
  const node = document.getElementById(id);
  node.replaceChildren();
  const top = Math.max(1, ...rows.map((r) => r[1]));
  const head = el("tr");
  header.forEach((h) => head.appendChild(el("th", null, h)));
  node.appendChild(head);
  for (const [name, count] of rows) {
    const tr = el("tr");
    const bar = el("span", "bar");
    bar.style.width = `${Math.round((120 * count) / top)}px`;
    const cell = el("td"); cell.appendChild(bar);
    tr.append(el("td", null, name), el("td", null, count), cell);
    node.appendChild(tr);
  }
  if (!rows.length) node.appendChild(el("tr")).appendChild(el("td", null, "nothing in this range"));
}

let latest = 0; // a slower earlier answer never replaces a newer one

async function load() {
  const mine = ++latest;
  const form = document.getElementById("filters");
  Staff.defaultRange(form);
  const params = Staff.dates(form);
  const s = await api(`/staff/api/analytics?${params}`);
  if (mine !== latest) return;
  document.getElementById("cards").replaceChildren(
    card("conversations", s.conversations, "conversations"),
    card("customer messages", s.user_messages, "user_messages"),
    card("contained (no person needed)", percent(s.containment_rate), "containment_rate"),
    card("handed off", percent(s.handoff_rate), "handoff_rate"),
    card("messages that fell back", percent(s.fallback_rate), "fallback_rate"),
    card("messages out of scope", percent(s.out_of_scope_rate), "out_of_scope_rate"),
    card("median first agent reply", seconds(s.median_first_agent_reply_s), "median_first_agent_reply_s"),
    card("mean rating (1–5)", s.mean_rating === null ? "–" : s.mean_rating.toFixed(2), "mean_rating"),
  );
  document.getElementById("chart").src = `/staff/api/analytics.svg?${params}`;
  document.getElementById("csv").href = `/staff/api/analytics.csv?${params}`;
  table("intents", s.intent_mix, ["intent", "messages", ""]);
  table("reasons", s.handoff_reasons, ["reason", "handoffs", ""]);
  table("handoff-intents", s.handoff_intents, ["last intent before the handoff", "handoffs", ""]);
  table("ratings", Object.entries(s.ratings).map(([k, v]) => [`${k} of 5`, v]), ["rating", "customers", ""]);
  Staff.status("");
}

document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  load().catch((error) => Staff.status(error.message));
});
Staff.start(load);
