/*
 * Touchline agent inbox (GET /agent). Plain modern JavaScript, no build step.
 *
 * Talks to the Touchline API's /agent/api routes (bot/api/routes/agent_inbox.py) with the
 * HttpOnly session cookie set at sign-in; every state-changing request carries the
 * session's CSRF token in X-CSRF-Token. Live data comes over server-sent events: the queue
 * (/agent/api/stream) and the open conversation (/agent/api/tickets/<id>/stream).
 * Everything a customer, the bot or an agent wrote is inserted with textContent, never as
 * HTML (replay R7).
 */
(() => {
  "use strict";

  const HEARTBEAT_MS = 20000;
  const IDLE_MS = 5 * 60 * 1000;
  const TYPING_REPEAT_MS = 2500;
  const TYPING_STOP_MS = 3000;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };

  let me = null;
  let filter = "open";
  let openTickets = [];
  let queueStream = null;
  let current = null; // {ticket, cursor}
  let convStream = null;
  let lastActivity = Date.now();
  let away = false;
  let typingSentAt = 0;
  let typingTimer = null;

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && me) headers["X-CSRF-Token"] = me.csrf_token;
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && path !== "/agent/api/login") {
      showLogin();
      throw new Error("signed out");
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : `error ${response.status}`;
      throw new Error(detail);
    }
    return data;
  }

  // ---- sign-in ------------------------------------------------------------------------
  function showLogin() {
    me = null;
    if (queueStream) queueStream.close();
    if (convStream) convStream.close();
    $("app").hidden = true;
    $("login").hidden = false;
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData($("login"));
    $("login-error").textContent = "";
    try {
      me = await api("POST", "/agent/api/login",
                     { email: form.get("email"), password: form.get("password") });
      $("login").reset();
      start();
    } catch (error) {
      $("login-error").textContent = error.message;
    }
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/agent/api/logout"); } finally { showLogin(); }
  });

  // ---- presence -----------------------------------------------------------------------
  function presence(active) {
    if (!me) return;
    away = !active;
    api("POST", "/agent/api/presence", { active }).catch(() => {});
  }
  for (const type of ["mousemove", "keydown", "click", "focus"]) {
    window.addEventListener(type, () => {
      lastActivity = Date.now();
      if (away && document.visibilityState === "visible") presence(true);
    }, { passive: true });
  }
  document.addEventListener("visibilitychange", () => {
    presence(document.visibilityState === "visible");
  });
  window.addEventListener("pagehide", () => {
    if (!me) return;
    fetch("/agent/api/presence", {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
      body: JSON.stringify({ active: false }),
    });
  });
  setInterval(() => {
    const idle = Date.now() - lastActivity > IDLE_MS || document.visibilityState !== "visible";
    presence(!idle);
  }, HEARTBEAT_MS);

  // ---- queue --------------------------------------------------------------------------
  function waited(createdAt) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(createdAt)) / 1000));
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
    return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  }

  function customerLabel(ticket) {
    return ticket.customer_name ? `${ticket.customer_name} (verified)` : "Anonymous visitor";
  }

  function queueRow(ticket) {
    const row = el("li", "ticket");
    row.dataset.ticket = String(ticket.ticket_id);
    if (current && current.ticket.ticket_id === ticket.ticket_id) row.classList.add("selected");
    const head = el("div", "row-head");
    head.append(el("span", `channel ${ticket.channel}`, ticket.channel),
                el("strong", "customer", customerLabel(ticket)),
                el("span", "wait", ticket.status === "open" ? waited(ticket.created_at) : "closed"));
    const meta = el("div", "row-meta");
    meta.append(el("span", "reason", `#${ticket.ticket_id} · ${ticket.reason}`),
                el("span", "holder", ticket.agent_name ? `with ${ticket.agent_name}`
                  : ticket.status === "open" ? "unassigned" : ""));
    if (ticket.status === "open" && !ticket.takeover) meta.append(el("span", "with-bot", "back with the bot"));
    if (ticket.rating) meta.append(el("span", "rating", `rated ${ticket.rating}/5`));
    if (ticket.contact_email) meta.append(el("span", "contact", `reply to ${ticket.contact_email}`));
    const summary = el("p", "row-summary", (ticket.summary || "").slice(0, 240));
    row.append(head, meta, summary);
    row.tabIndex = 0;
    row.addEventListener("click", () => openConversation(ticket.ticket_id));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(ticket.ticket_id); });
    return row;
  }

  async function renderQueue() {
    let tickets = openTickets;
    if (filter === "mine") tickets = openTickets.filter((t) => me && t.agent_id === me.id);
    if (filter === "unassigned") tickets = openTickets.filter((t) => t.agent_id === null);
    if (filter === "closed") {
      try { tickets = await api("GET", "/agent/api/queue?filter=closed"); } catch (_) { return; }
    }
    const list = $("queue");
    list.replaceChildren(...tickets.map(queueRow));
    if (!tickets.length) list.append(el("li", "empty", "Nobody is waiting here."));
  }

  for (const button of $("filters").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      filter = button.dataset.filter;
      for (const other of $("filters").querySelectorAll("button")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      renderQueue();
    });
  }

  function listenQueue() {
    if (queueStream) queueStream.close();
    queueStream = new EventSource("/agent/api/stream");
    queueStream.addEventListener("queue", (event) => {
      const data = JSON.parse(event.data);
      openTickets = data.tickets;
      $("online").textContent = `Online: ${data.online.map((a) => a.name).join(", ") || "nobody"}`;
      if (filter !== "closed") renderQueue();
    });
  }
  setInterval(() => {
    for (const row of document.querySelectorAll("#queue .ticket")) {
      const ticket = openTickets.find((t) => String(t.ticket_id) === row.dataset.ticket);
      if (ticket) row.querySelector(".wait").textContent = waited(ticket.created_at);
    }
  }, 1000);

  // ---- one conversation -----------------------------------------------------------------
  function lineNode(line) {
    const item = el("li", `line ${line.author}`);
    const who = line.author === "agent" ? `${line.agent} (agent)`
      : line.author === "bot" ? "Bot" : "Customer";
    const head = el("div", "line-head");
    head.append(el("span", "who", who),
                el("time", "at", new Date(line.at * 1000).toLocaleTimeString()));
    if (line.channel) head.append(el("span", "via", line.channel));
    item.append(head, el("p", "text", line.text));
    return item;
  }

  function addLines(lines) {
    const list = $("transcript");
    for (const line of lines) {
      if (current.seen.has(line.id)) continue;
      current.seen.add(line.id);
      list.append(lineNode(line));
      current.cursor = Math.max(current.cursor, line.id);
    }
    list.scrollTop = list.scrollHeight;
  }

  function renderKnown(known) {
    const box = $("known");
    const parts = [el("h3", null, "What the bot knew")];
    const c = known.customer;
    parts.push(el("p", null, c ? `Customer: ${c.name} <${c.email}> (verified)` : "Customer: anonymous"));
    if (known.caller) parts.push(el("p", null, `Called from ${known.caller} (call back on this number)`));
    for (const order of known.orders) {
      const verified = order.verified ? "" : " (named in the chat, not verified)";
      parts.push(el("p", null, `Order ${order.number}: ${order.status}` +
        (order.carrier ? `, ${order.carrier} ${order.tracking || ""}` : "") +
        (order.expected ? `, expected ${order.expected}` : "") + verified));
    }
    if (known.cart) {
      const lines = known.cart.lines.map((l) => `${l.quantity} × ${l.title}`).join("; ");
      parts.push(el("p", null, `Cart: ${lines}; total $${known.cart.total}` +
        (known.cart.discount_code ? ` (code ${known.cart.discount_code})` : "")));
    }
    if (known.last_payment) {
      const p = known.last_payment;
      parts.push(el("p", null, `Last payment: $${p.amount} by ${p.method}, ${p.status}` +
        (p.decline_code ? ` (${p.decline_code})` : "")));
    }
    box.replaceChildren(...parts);
  }

  function renderTicketState(ticket) {
    current.ticket = ticket;
    $("conv-title").textContent = `#${ticket.ticket_id} · ${customerLabel(ticket)} · ${ticket.channel}`;
    const state = ticket.status === "closed" ? "closed"
      : ticket.agent_name ? `with ${ticket.agent_name}${ticket.takeover ? "" : " (bot answering)"}` : "unassigned";
    $("conv-state").textContent = state;
    $("customer-typing").hidden = !(ticket.customer_typing && ticket.status === "open");
    $("conv-summary").textContent = (ticket.contact_email
      ? `Customer's e-mail for replies: ${ticket.contact_email}\n` : "") + (ticket.summary || "");
    const mine = me && ticket.agent_id === me.id && ticket.status === "open";
    $("claim").hidden = !(ticket.status === "open" && ticket.agent_id === null);
    $("handback").hidden = !(mine && ticket.takeover);
    $("transfer").hidden = !(mine && ticket.channel === "phone");
    $("composer").hidden = !mine;
    $("closer").hidden = !mine;
    $("assign-label").hidden = !(me && me.role === "admin" && ticket.status === "open");
    if (!$("assign-label").hidden) $("assign").value = String(ticket.agent_id ?? "");
  }

  async function openConversation(ticketId) {
    if (convStream) convStream.close();
    $("conv-error").textContent = "";
    let view;
    try { view = await api("GET", `/agent/api/tickets/${ticketId}`); } catch (error) {
      $("conv-error").textContent = error.message;
      return;
    }
    current = { ticket: view.ticket, cursor: 0, seen: new Set() };
    $("conversation").hidden = false;
    $("transcript").replaceChildren();
    addLines(view.lines);
    renderKnown(view.known);
    renderTicketState(view.ticket);
    renderQueue();
    loadSavedReplies(ticketId).catch(() => {});
    convStream = new EventSource(`/agent/api/tickets/${ticketId}/stream?after=${current.cursor}`);
    convStream.addEventListener("lines", (event) => addLines(JSON.parse(event.data)));
    convStream.addEventListener("ticket", (event) => renderTicketState(JSON.parse(event.data)));
  }

  async function act(path, body) {
    $("conv-error").textContent = "";
    try {
      return await api("POST", `/agent/api/tickets/${current.ticket.ticket_id}/${path}`, body);
    } catch (error) {
      $("conv-error").textContent = error.message;
      return null;
    }
  }

  $("claim").addEventListener("click", () => act("claim"));
  $("handback").addEventListener("click", () => act("handback"));
  $("transfer").addEventListener("click", async () => {
    const done = await act("transfer");
    if (done) $("conv-state").textContent = `call put through to ${done.to}`;
  });
  $("assign").addEventListener("change", () => {
    const value = $("assign").value;
    act("assign", { agent_id: value === "" ? null : Number(value) });
  });

  function typing(on) {
    if (!current) return;
    typingSentAt = on ? Date.now() : 0;
    act("typing", { typing: on });
  }
  $("reply").addEventListener("input", () => {
    if (Date.now() - typingSentAt > TYPING_REPEAT_MS) typing(true);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => typing(false), TYPING_STOP_MS);
  });
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value.trim();
    if (!text) return;
    clearTimeout(typingTimer);
    typingSentAt = 0;
    $("send").disabled = true;
    const sent = await act("reply", { text });
    $("send").disabled = false;
    if (sent) $("reply").value = "";
  });
  $("closer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const resolution = $("resolution").value.trim();
    if (!resolution) {
      $("conv-error").textContent = "Write a resolution note to close.";
      return;
    }
    if (await act("close", { resolution })) $("resolution").value = "";
  });

  /** Saved replies, with {first_name} and {order_number} filled for this conversation. */
  async function loadSavedReplies(ticketId) {
    const replies = await api("GET", `/agent/api/tickets/${ticketId}/saved-replies`);
    const options = [el("option", null, "Saved reply…")];
    options[0].value = "";
    for (const reply of replies) {
      const option = el("option", null, reply.title);
      option.value = reply.text;
      options.push(option);
    }
    $("saved").replaceChildren(...options);
  }
  $("saved").addEventListener("change", () => {
    if (!$("saved").value) return;
    $("reply").value = $("saved").value;
    $("saved").value = "";
    $("reply").focus();
  });

  async function loadAgents() {
    if (!me || me.role !== "admin") return;
    const agents = await api("GET", "/agent/api/agents");
    const options = [el("option", null, "nobody")];
    options[0].value = "";
    for (const agent of agents) {
      const option = el("option", null, agent.name);
      option.value = String(agent.id);
      options.push(option);
    }
    $("assign").replaceChildren(...options);
  }

  // ---- start ----------------------------------------------------------------------------
  function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("me").textContent = `${me.name} (${me.role})`;
    presence(true);
    listenQueue();
    loadAgents().catch(() => {});
  }

  api("GET", "/agent/api/me").then((data) => { me = data; start(); }).catch(() => showLogin());
})();
