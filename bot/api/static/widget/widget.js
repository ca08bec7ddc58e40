/*
 * Touchline chat widget. Embed with one tag:
 *   <script src="https://api.example.com/widget.js" data-rasa-url="https://rasa.example.com"></script>
 *
 * Plain modern JavaScript, no build step. Talks to Rasa's socket.io channel
 * (connectors/socketio.py) with the vendored socket.io-client 4. Everything from users and
 * the bot is rendered with textContent / DOM APIs, never as HTML; links only for http(s).
 * The session id and its server-signed token live in localStorage, so a reload or a
 * reconnect resumes the conversation and restores its history.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__touchlineChat) return;
  window.__touchlineChat = true;

  const ASSETS = new URL(".", script.src);
  const RASA_URL = httpUrl(script.dataset.rasaUrl);
  const SESSION_KEY = `touchline.session:${RASA_URL ? RASA_URL.origin : ""}`;
  const OPEN_KEY = "touchline.open";
  const MAX_CHARS = 2000;

  /** The URL if `value` parses as an http(s) URL, else null. */
  function httpUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url : null;
    } catch {
      return null;
    }
  }

  /** A new element with a class and text content (never HTML). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** A link that opens in a new tab; `url` must come from httpUrl(). */
  function link(url, label) {
    const a = el("a", "link", label);
    a.href = url.href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  const storage = {
    load() {
      try {
        const value = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
        const ok = value && typeof value.session_id === "string" && typeof value.token === "string";
        return ok ? { session_id: value.session_id, token: value.token } : null;
      } catch {
        return null;
      }
    },
    save(session) {
      try {
        localStorage.setItem(SESSION_KEY, JSON.stringify(session));
      } catch {
        /* storage disabled: the session lasts as long as the page */
      }
    },
    wasOpen() {
      try {
        return sessionStorage.getItem(OPEN_KEY) === "1";
      } catch {
        return false;
      }
    },
    setOpen(open) {
      try {
        sessionStorage.setItem(OPEN_KEY, open ? "1" : "0");
      } catch {
        /* ignore */
      }
    },
  };

  /** Load the vendored socket.io client without replacing a page's own `window.io`. */
  function loadSocketIo() {
    return new Promise((resolve, reject) => {
      const previous = Object.getOwnPropertyDescriptor(window, "io");
      const tag = document.createElement("script");
      tag.src = new URL("vendor/socket.io.min.js", ASSETS).href;
      tag.async = true;
      tag.onload = () => {
        const io = window.io;
        if (previous) Object.defineProperty(window, "io", previous);
        else delete window.io;
        if (typeof io === "function") resolve(io);
        else reject(new Error("socket.io client did not load"));
      };
      tag.onerror = () => reject(new Error("socket.io client did not load"));
      document.head.appendChild(tag);
    });
  }

  function formatPrice(value, currency) {
    const code = typeof currency === "string" && /^[A-Z]{3}$/.test(currency) ? currency : "USD";
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: code }).format(value);
    } catch {
      return `${value.toFixed(2)} ${code}`;
    }
  }

  /** A list of product cards for a `product_cards` custom payload, else null. */
  function productCards(custom) {
    if (!custom || custom.type !== "product_cards" || !Array.isArray(custom.products)) return null;
    const list = el("ul", "cards");
    for (const product of custom.products.slice(0, 10)) {
      if (!product || typeof product.title !== "string") continue;
      const card = el("li", "card");
      card.append(el("span", "card-title", product.title));
      const meta = [product.brand, product.category].filter((v) => typeof v === "string" && v);
      if (meta.length) card.append(el("span", "card-meta", meta.join(" · ")));
      if (typeof product.price === "number" && Number.isFinite(product.price)) {
        card.append(el("span", "card-price", formatPrice(product.price, product.currency)));
      }
      const left = Number.isInteger(product.stock) ? ` (${product.stock} left)` : "";
      card.append(product.in_stock
        ? el("span", "card-stock in", `In stock${left}`)
        : el("span", "card-stock out", "Out of stock"));
      const url = httpUrl(product.url);
      if (url) card.append(link(url, "View product"));
      list.append(card);
    }
    return list.childElementCount ? list : null;
  }

  /** A speech-bubble icon (inline SVG built with DOM calls, no markup strings). */
  function chatIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.classList.add("launcher-icon");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.append(path);
    return svg;
  }

  // ---- DOM -------------------------------------------------------------------------
  const host = el("div");
  host.id = "touchline-chat";
  const root = host.attachShadow({ mode: "open" });
  const style = el("link");
  style.rel = "stylesheet";
  style.href = new URL("widget/widget.css", ASSETS).href;

  const launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-controls", "panel");
  launcher.append(chatIcon(), el("span", "launcher-label", "Chat"));

  const panel = el("section", "panel");
  panel.id = "panel";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", "Chat with the Touchline assistant");
  const header = el("header", "header");
  const status = el("span", "status");
  status.setAttribute("aria-live", "polite");
  const closer = el("button", "close", "×");
  closer.type = "button";
  closer.setAttribute("aria-label", "Close chat");
  const titles = el("div", "titles");
  titles.append(el("span", "title", "Touchline assistant"), status);
  header.append(titles, closer);
  const log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  const typing = el("div", "typing");
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.append(el("span"), el("span"), el("span"));
  typing.hidden = true;
  const form = el("form", "composer");
  const input = el("input", "input");
  input.type = "text";
  input.maxLength = MAX_CHARS;
  input.placeholder = "Type a message…";
  input.setAttribute("aria-label", "Message");
  input.autocomplete = "off";
  const sendButton = el("button", "send", "Send");
  sendButton.type = "submit";
  form.append(input, sendButton);
  panel.append(header, log, typing, form);

  // ---- conversation state -----------------------------------------------------------
  let socket = null;
  let connecting = false;
  let ready = false;
  let session = storage.load();
  const outbox = [];

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function setStatus(text) {
    status.textContent = text;
  }

  function setTyping(on) {
    typing.hidden = !on;
    if (on) scrollDown();
  }

  /** Quick replies of earlier messages can no longer be used once the user answered. */
  function retireQuickReplies() {
    for (const button of log.querySelectorAll(".quick button")) button.disabled = true;
  }

  function addUser(text) {
    retireQuickReplies();
    log.append(el("div", "msg user", text));
    scrollDown();
  }

  function quickReplies(buttons) {
    const group = el("div", "quick");
    for (const button of buttons) {
      if (!button || typeof button.title !== "string" || typeof button.payload !== "string") {
        continue;
      }
      const node = el("button", "quick-reply", button.title);
      node.type = "button";
      node.addEventListener("click", () => send(button.payload, button.title));
      group.append(node);
    }
    return group.childElementCount ? group : null;
  }

  function addBot(message) {
    if (!message || typeof message !== "object") return;
    const bubble = el("div", "msg bot");
    if (typeof message.text === "string" && message.text) {
      bubble.append(el("p", "text", message.text));
    }
    const quick = Array.isArray(message.buttons) ? quickReplies(message.buttons) : null;
    if (quick) bubble.append(quick);
    const cards = productCards(message.custom);
    if (cards) bubble.append(cards);
    const image = httpUrl(message.image);
    if (image) bubble.append(link(image, "Open image"));
    if (!bubble.childElementCount) return;
    log.append(bubble);
    scrollDown();
  }

  /** Show the server's copy of the conversation, then messages not yet sent. */
  function renderHistory(history) {
    log.replaceChildren();
    for (const item of history) {
      if (item && item.from === "user" && typeof item.text === "string") addUser(item.text);
      else if (item && item.from === "bot") addBot(item);
    }
    for (const pending of outbox) addUser(pending.display_text || pending.message);
  }

  function flush() {
    while (ready && outbox.length) socket.emit("user_uttered", outbox.shift());
  }

  function send(text, display) {
    if (!text.trim()) return;
    addUser(display || text);
    setTyping(true);
    outbox.push(display ? { message: text, display_text: display } : { message: text });
    connect();
    flush();
  }

  async function connect() {
    if (socket || connecting) return;
    if (!RASA_URL) {
      setStatus("Chat is not configured");
      return;
    }
    connecting = true;
    setStatus("Connecting…");
    let io;
    try {
      io = await loadSocketIo();
    } catch {
      setStatus("Chat is unavailable");
      connecting = false;
      return;
    }
    socket = io(RASA_URL.origin, {
      path: `${RASA_URL.pathname.replace(/\/+$/, "")}/socket.io`,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelayMax: 5000,
    });
    socket.on("connect", () => {
      socket.emit("session_request", session || {});
    });
    socket.on("session_confirm", (data) => {
      if (!data || typeof data.session_id !== "string" || typeof data.token !== "string") return;
      if (data.resumed) renderHistory(Array.isArray(data.history) ? data.history : []);
      else if (session) renderHistory([]);
      session = { session_id: data.session_id, token: data.token };
      storage.save(session);
      ready = true;
      setStatus("");
      setTyping(outbox.length > 0);
      flush();
    });
    socket.on("user_echo", (data) => {
      if (data && typeof data.text === "string") addUser(data.text);
    });
    socket.on("bot_typing", (data) => setTyping(Boolean(data && data.typing)));
    socket.on("bot_uttered", addBot);
    socket.on("disconnect", (reason) => {
      ready = false;
      setTyping(false);
      setStatus("Reconnecting…");
      // The client reconnects by itself except after a server-side disconnect.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    socket.on("connect_error", () => setStatus("Reconnecting…"));
    connecting = false;
  }

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    storage.setOpen(open);
    if (open) {
      connect();
      input.focus();
    }
  }

  launcher.addEventListener("click", () => setOpen(panel.hidden));
  closer.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text.slice(0, MAX_CHARS));
  });

  function mount() {
    const show = () => {
      root.append(launcher, panel);
      setOpen(storage.wasOpen());
    };
    style.addEventListener("load", show, { once: true });
    style.addEventListener("error", show, { once: true });
    root.append(style);
    document.body.append(host);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
