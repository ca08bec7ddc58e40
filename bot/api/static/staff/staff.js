// Shared code of the staff pages: sign-in (the agent inbox's accounts), API calls with the
// session's CSRF token, and a helper that builds elements. Every string from the server or
// a person goes in with textContent, never as HTML.
"use strict";

const Staff = (() => {
  let csrf = "";
  const ready = []; // run once the page knows who is signed in (never before: no 401 races)

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function status(text, ok) {
    const node = document.getElementById("status");
    node.textContent = text || "";
    node.className = ok ? "status ok" : "status";
  }

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.body !== undefined && typeof opts.body !== "string") {
      opts.body = JSON.stringify(opts.body);
      opts.headers["Content-Type"] = "application/json";
    }
    if (opts.method && opts.method !== "GET") opts.headers["X-CSRF-Token"] = csrf;
    const response = await fetch(path, opts);
    if (response.status === 401) { showSignIn(); throw new Error("sign in first"); }
    if (response.status === 403) {
      const main = document.querySelector("main");
      main.replaceChildren(el("p", "status", "Only admins of the agent inbox can open the staff pages."));
      throw new Error("forbidden");
    }
    const type = response.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const detail = body && body.detail;
      throw new Error(Array.isArray(detail) ? detail[0].msg : (detail || "request failed"));
    }
    return body;
  }

  function showSignIn() {
    const main = document.querySelector("main");
    const form = el("form");
    form.id = "signin";
    form.appendChild(el("h2", null, "Sign in with your agent inbox account"));
    const email = el("input"); email.type = "email"; email.name = "email"; email.required = true;
    const password = el("input"); password.type = "password"; password.name = "password";
    password.required = true;
    const l1 = el("label", null, "E-mail"); l1.appendChild(email);
    const l2 = el("label", null, "Password"); l2.appendChild(password);
    const button = el("button", null, "Sign in"); button.type = "submit";
    const message = el("div", "status");
    form.append(l1, l2, button, message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch("/agent/api/login", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: email.value, password: password.value }),
      });
      if (response.ok) { window.location.reload(); return; }
      message.textContent = response.status === 429 ? "Too many attempts: wait and try again."
        : "Wrong e-mail or password.";
    });
    main.replaceChildren(form);
  }

  async function start(run) {
    const response = await fetch("/agent/api/me", { credentials: "same-origin" });
    if (response.status === 401) { showSignIn(); return; }
    const me = await response.json();
    csrf = me.csrf_token;
    document.getElementById("who").textContent = `${me.name} (${me.role})`;
    try {
      await run();
      for (const hook of ready) await hook();
    } catch (error) { if (error.message !== "forbidden") status(error.message); }
  }

  function onReady(hook) { ready.push(hook); }

  function dates(form) {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form).entries()) {
      if (value !== "" && value !== "off") params.set(key, value === "on" ? "true" : value);
    }
    return params;
  }

  function defaultRange(form) {
    const end = new Date();
    const start = new Date(end.getTime() - 6 * 86400000);
    if (!form.start.value) form.start.value = start.toISOString().slice(0, 10);
    if (!form.end.value) form.end.value = end.toISOString().slice(0, 10);
  }

  return { el, api, status, start, onReady, dates, defaultRange };
})();
