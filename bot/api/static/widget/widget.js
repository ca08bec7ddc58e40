/*
 * Touchline chat widget. Embed with one tag:
 *   <script src="https://api.example.com/widget.js" data-rasa-url="https://rasa.example.com"></script>
 *
 * Plain modern JavaScript, no build step. Talks to Rasa's socket.io channel
 * (connectors/socketio.py) with the vendored socket.io-client 4. Everything from users and
 * the bot is rendered with textContent / DOM APIs, never as HTML; links only for http(s).
 * The session id and its server-signed token live in localStorage, so a reload or a
 * reconnect resumes the conversation and restores its latest turns ("Show earlier
 * messages" fetches older ones). Each message carries a random id and stays pending until
 * the server acknowledges that it stored it; pending messages are sent again after a
 * reconnect, and the server runs a message id once.
 *
 * Voice: where the browser can record (a secure context with getUserMedia and MediaRecorder)
 * a microphone button records up to 30 s and POSTs the recording to the Rasa server's voice
 * gateway (connectors/voice.py, POST /webhooks/voice/utterance) with the same session id
 * and token; the transcript and the replies join the chat and the spoken reply plays.
 * `data-voice="off"` on the script tag hides the button.
 *
 * Signed-in customers: the shop puts a short-lived identity token it signed for its
 * logged-in customer on the tag (`data-identity-token="..."`) or hands one over later with
 * `Touchline.setIdentity(token)` (also to refresh it before it expires). When the sign-in
 * expires or the shop revokes it, the server moves the chat to a new anonymous conversation
 * and says so (`identity_expired`); the widget tells the visitor to sign in again. The conversation is then the one named in the
 * token; it is kept in memory only, never in localStorage. `Touchline.logout()` forgets it
 * and starts a new anonymous conversation.
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
  const VOICE_ON = script.dataset.voice !== "off";
  const MAX_RECORDING_MS = 30000;
  const VOICE_TIMEOUT_MS = 90000;
  const SESSION_WAIT_MS = 15000;
  /** Recording formats in order of preference; the voice gateway reads all of them. */
  const RECORDING_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm",
    "audio/mp4"];
  /** `custom.type` of a product-cards payload: filled in by the server that serves this file
   * (bot/api/routes/widget.py) from the one Python definition (bot/support/messages.py). */
  const CARDS_TYPE = "{{CARDS_TYPE}}";
  const SAY = {
    blocked: "Microphone access is blocked. Allow it for this site in your browser to send "
      + "voice messages, or type your message instead.",
    noMic: "No microphone was found. You can type your message instead.",
    busyMic: "The microphone is being used by another app. Please try again, or type your "
      + "message instead.",
    unsupported: "Sorry, this browser can't record voice messages. Please type your message "
      + "instead.",
    nothing: "Sorry, I didn't catch that. Could you say it again?",
    tooLong: "That recording was too long. Please keep voice messages under 30 seconds.",
    unreadable: "Sorry, I couldn't play that recording. Please try again, or type your message.",
    unavailable: "Voice messages are unavailable right now. Please type your message instead.",
    session: "Your chat session has changed. Please reload the page and try again.",
    expired: "Your sign-in for this chat has ended. Please sign in again to talk about your "
      + "orders, cart or payments; until then I can help you as a guest.",
    refused: "Your sign-in could not be checked, so this chat carries on as a guest.",
    offline: "Sorry, your voice message could not be sent. Please check your connection and "
      + "try again, or type your message.",
    listening: "Listening… select the microphone again to send.",
    thinking: "Thinking…",
    noWebSocket: "Chat can't connect: this network blocks WebSocket connections.",
  };

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
    clear() {
      try {
        localStorage.removeItem(SESSION_KEY);
      } catch {
        /* storage disabled: nothing kept */
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

  /** A list of product cards for a product-cards custom payload (CARDS_TYPE), else null. */
  function productCards(custom) {
    if (!custom || custom.type !== CARDS_TYPE || !Array.isArray(custom.products)) return null;
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

  /** An inline SVG icon (built with DOM calls, no markup strings); decorative unless `label`. */
  function icon(d, className, label) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    if (label) {
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", label);
    } else {
      svg.setAttribute("aria-hidden", "true");
    }
    svg.classList.add(className);
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  }

  const CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  const MIC_ICON = "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5"
    + "a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2z";
  const STOP_ICON = "M7 7h10v10H7z";

  /** Whether this browser can record here (getUserMedia needs a secure context). */
  function canRecord() {
    return Boolean(VOICE_ON && RASA_URL && window.isSecureContext && navigator.mediaDevices
      && typeof navigator.mediaDevices.getUserMedia === "function"
      && typeof window.MediaRecorder === "function");
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
  launcher.append(icon(CHAT_ICON, "launcher-icon"), el("span", "launcher-label", "Chat"));

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
  /** Whether a person of the shop writes in this conversation: then the widget tells the
   * server when the customer types (at most every TYPING_SIGNAL_MS), for the agent inbox. */
  let withPerson = false;
  let typingSignalAt = 0;
  const TYPING_SIGNAL_MS = 2000;
  /** "<agent> is typing…" while a person writes a reply in the agent inbox. */
  const agentTyping = el("div", "agent-typing");
  agentTyping.setAttribute("role", "status");
  agentTyping.hidden = true;
  const form = el("form", "composer");
  const input = el("input", "input");
  input.type = "text";
  input.maxLength = MAX_CHARS;
  input.placeholder = "Type a message…";
  input.setAttribute("aria-label", "Message");
  input.autocomplete = "off";
  const sendButton = el("button", "send", "Send");
  sendButton.type = "submit";
  const micButton = el("button", "mic");
  micButton.type = "button";
  micButton.hidden = !canRecord();
  const voiceState = el("div", "voice-state");
  voiceState.setAttribute("role", "status");
  voiceState.hidden = true;
  const player = el("audio", "reply-audio");
  player.preload = "auto";
  form.append(input, micButton, sendButton);
  panel.append(header, log, typing, agentTyping, voiceState, form, player);

  // ---- conversation state -----------------------------------------------------------
  let socket = null;
  let connecting = false;
  let ready = false;
  let session = storage.load();
  let confirmed = false;
  /** A shop-signed identity token not presented yet (each is accepted once). */
  let identity = script.dataset.identityToken || null;
  /** Whether the session is a signed-in customer's (its token is then a resume token). */
  let signedIn = false;
  const sessionWaiters = [];
  /** Messages the server has not acknowledged yet: {id, message, display_text?}. */
  const pending = [];
  /** Cursor of the next older page of history (null: none). */
  let olderCursor = null;
  let voice = "idle";
  let recording = null;
  let playerUrl = null;

  input.addEventListener("input", () => {
    if (!withPerson || !ready || Date.now() - typingSignalAt < TYPING_SIGNAL_MS) return;
    typingSignalAt = Date.now();
    socket.emit("user_typing");
  });

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

  /** The user's bubble; a spoken message (voice) carries a small microphone mark. */
  function userBubble(text, spoken = false) {
    const bubble = el("div", "msg user", text);
    if (spoken) {
      bubble.classList.add("spoken");
      bubble.prepend(icon(MIC_ICON, "spoken-icon", "Spoken message"));
    }
    return bubble;
  }

  function addUser(text, spoken = false) {
    retireQuickReplies();
    log.append(userBubble(text, spoken));
    scrollDown();
  }

  /** A polite one-line notice in the chat (not part of the conversation's history). */
  function notice(text) {
    log.append(el("p", "notice", text));
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

  /** The bot's bubble for one message, or null when it has nothing to show. */
  function botBubble(message) {
    if (!message || typeof message !== "object") return null;
    const bubble = el("div", "msg bot");
    if (typeof message.agent === "string" && message.agent) {
      // A person of the shop wrote this in the agent inbox.
      bubble.classList.add("agent");
      bubble.append(el("span", "agent-name", message.agent));
    }
    if (typeof message.text === "string" && message.text) {
      bubble.append(el("p", "text", message.text));
    }
    const quick = Array.isArray(message.buttons) ? quickReplies(message.buttons) : null;
    if (quick) bubble.append(quick);
    const cards = productCards(message.custom);
    if (cards) bubble.append(cards);
    const image = httpUrl(message.image);
    if (image) bubble.append(link(image, "Open image"));
    return bubble.childElementCount ? bubble : null;
  }

  function addBot(message) {
    const bubble = botBubble(message);
    if (!bubble) return;
    log.append(bubble);
    scrollDown();
  }

  /** The bubbles of history items (from the server), in order. */
  function historyBubbles(history) {
    const nodes = [];
    for (const item of history) {
      if (item && item.from === "user" && typeof item.text === "string") {
        nodes.push(userBubble(item.text, item.spoken === true));
      } else if (item && item.from === "bot") {
        if (typeof item.agent === "string") withPerson = true;
        const bubble = botBubble(item);
        if (bubble) nodes.push(bubble);
      }
    }
    return nodes;
  }

  /** "Show earlier messages" at the top of the log while older turns exist. */
  const moreButton = el("button", "more", "Show earlier messages");
  moreButton.type = "button";
  moreButton.addEventListener("click", () => {
    if (!ready || olderCursor === null) return;
    moreButton.disabled = true;
    socket.emit("history_request", { before: olderCursor }, (page) => {
      moreButton.disabled = false;
      if (!page || !Array.isArray(page.history)) return;
      const height = log.scrollHeight;
      const nodes = historyBubbles(page.history);
      for (const button of nodes.flatMap((n) => [...n.querySelectorAll("button")])) {
        button.disabled = true; // quick replies of older turns were answered already
      }
      moreButton.after(...nodes);
      setOlder(page);
      log.scrollTop += log.scrollHeight - height;
    });
  });

  function setOlder(page) {
    olderCursor = page.more === true && Number.isInteger(page.before) ? page.before : null;
    if (olderCursor === null) moreButton.remove();
    else if (!moreButton.isConnected) log.prepend(moreButton);
  }

  /** Show the server's copy of the conversation, then messages not yet acknowledged. */
  function renderHistory(page) {
    log.replaceChildren();
    for (const node of historyBubbles(page.history)) {
      if (node.classList.contains("user")) retireQuickReplies();
      log.append(node);
    }
    setOlder(page);
    for (const item of pending) addUser(item.display_text || item.message);
  }

  /** A random message id (32 hex digits; works outside secure contexts too). */
  function messageId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function acknowledged(id) {
    const at = pending.findIndex((item) => item.id === id);
    if (at >= 0) pending.splice(at, 1);
  }

  /** Send one pending message; it stays pending until the server acknowledges it. */
  function transmit(item) {
    socket.emit("user_uttered", item, (answer) => {
      if (answer && answer.status !== "no_session") acknowledged(item.id);
    });
  }

  function send(text, display) {
    if (!text.trim()) return;
    addUser(display || text);
    setTyping(true);
    const item = { id: messageId(), message: text };
    if (display) item.display_text = display;
    pending.push(item);
    connect();
    if (ready) transmit(item);
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
      if (identity) socket.emit("session_request", { identity });
      else if (signedIn && session) socket.emit("session_request", { resume: session.token });
      else socket.emit("session_request", session || {});
    });
    socket.on("identity_refused", () => {
      notice(SAY.refused);
      identity = null;
      signedIn = false;
      session = storage.load();
    });
    // The server has already moved this socket to a new anonymous session (session_confirm).
    socket.on("identity_expired", () => {
      notice(SAY.expired);
      identity = null;
    });
    socket.on("session_confirm", (data) => {
      if (!data || typeof data.session_id !== "string" || typeof data.token !== "string") return;
      const customer = data.customer === true && typeof data.resume === "string";
      const history = data.resumed && Array.isArray(data.history) ? data.history : [];
      // Messages the server stored before the connection dropped are in the history.
      for (const item of history) if (item && typeof item.id === "string") acknowledged(item.id);
      if (data.resumed) renderHistory({ ...data, history });
      else if (session) renderHistory({ history: [] });
      session = { session_id: data.session_id, token: customer ? data.resume : data.token };
      signedIn = customer;
      if (customer) identity = null;
      else storage.save(session);
      ready = true;
      confirmed = true;
      while (sessionWaiters.length) sessionWaiters.shift()(session);
      setStatus("");
      setTyping(pending.length > 0);
      for (const item of pending) transmit(item);
    });
    socket.on("user_echo", (data) => {
      if (!data || typeof data.text !== "string") return;
      // Our own message sent before a reconnect, echoed to this new socket: already shown.
      if (typeof data.id === "string" && pending.some((item) => item.id === data.id)) {
        acknowledged(data.id);
        return;
      }
      addUser(data.text, data.spoken === true);
    });
    socket.on("bot_typing", (data) => setTyping(Boolean(data && data.typing)));
    socket.on("bot_uttered", (message) => {
      if (message && typeof message.agent === "string") {
        agentTyping.hidden = true;
        withPerson = true;
      }
      addBot(message);
    });
    socket.on("agent_typing", (data) => {
      const on = Boolean(data && data.typing && typeof data.name === "string");
      agentTyping.textContent = on ? `${data.name} is typing…` : "";
      agentTyping.hidden = !on;
      if (on) scrollDown();
    });
    socket.on("disconnect", (reason) => {
      ready = false;
      setTyping(false);
      setStatus("Reconnecting…");
      // The client reconnects by itself except after a server-side disconnect.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    // A polling handshake refused with 400: the server accepts WebSocket only (several
    // Rasa workers) and this network blocks it (README, "Embed the chat widget").
    socket.on("connect_error", (error) => setStatus(error && error.description === 400
      ? SAY.noWebSocket : "Reconnecting…"));
    connecting = false;
  }

  /** Leave the current conversation and start the next one (signed in with `token`, or
   * anonymous), connecting at once when the chat was already connected. */
  function restart(token) {
    const wasConnected = Boolean(socket);
    if (socket) {
      socket.off();
      socket.disconnect();
      socket = null;
    }
    identity = token;
    signedIn = false;
    ready = false;
    confirmed = false;
    session = token ? null : storage.load();
    pending.length = 0;
    renderHistory({ history: [] });
    if (wasConnected) connect();
  }

  window.Touchline = Object.freeze({
    /** Sign the chat in with a token the shop signed, or refresh the current sign-in. */
    setIdentity(token) {
      if (typeof token !== "string" || !token) return;
      if (signedIn && socket && ready) {
        socket.emit("identity_refresh", { identity: token }, (answer) => {
          if (answer && answer.status === "ok" && typeof answer.resume === "string") {
            session = { session_id: session.session_id, token: answer.resume };
          } else {
            restart(token);
          }
        });
      } else {
        restart(token);
      }
    },
    /** Forget the signed-in customer and start a new anonymous conversation. */
    logout() {
      storage.clear();
      restart(null);
    },
  });

  // ---- voice messages ---------------------------------------------------------------

  /** The session the server confirmed on this page (waits for it; null after a while). */
  function confirmedSession() {
    if (confirmed && session) return Promise.resolve(session);
    connect();
    return new Promise((resolve) => {
      const done = (value) => {
        clearTimeout(timer);
        const at = sessionWaiters.indexOf(done);
        if (at >= 0) sessionWaiters.splice(at, 1);
        resolve(value);
      };
      const timer = setTimeout(() => done(null), SESSION_WAIT_MS);
      sessionWaiters.push(done);
    });
  }

  /** idle → starting → recording → sending → idle; the button's label and pressed state. */
  function setVoice(state) {
    voice = state;
    const on = state === "recording";
    const label = on ? "Stop recording and send" : "Record a voice message";
    micButton.dataset.state = state;
    micButton.setAttribute("aria-pressed", String(on));
    micButton.setAttribute("aria-label", label);
    micButton.title = label;
    micButton.setAttribute("aria-disabled", String(state === "starting" || state === "sending"));
    micButton.classList.toggle("recording", on);
    micButton.replaceChildren(icon(on ? STOP_ICON : MIC_ICON, "mic-icon"));
    const line = on ? SAY.listening : state === "sending" ? SAY.thinking : "";
    voiceState.textContent = line;
    voiceState.hidden = !line;
  }

  function microphoneError(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return SAY.blocked;
    if (name === "NotFoundError" || name === "OverconstrainedError") return SAY.noMic;
    if (name === "NotReadableError" || name === "AbortError") return SAY.busyMic;
    return SAY.unsupported;
  }

  function stopTracks(stream) {
    for (const track of stream.getTracks()) track.stop();
  }

  async function startRecording() {
    setVoice("starting");
    player.pause();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      setVoice("idle");
      notice(microphoneError(error));
      return;
    }
    if (panel.hidden) {
      stopTracks(stream);
      setVoice("idle");
      return;
    }
    let recorder;
    const mimeType = RECORDING_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    try {
      recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    } catch {
      stopTracks(stream);
      setVoice("idle");
      notice(SAY.unsupported);
      return;
    }
    const chunks = [];
    const current = { recorder, cancelled: false, timer: 0 };
    recorder.addEventListener("dataavailable", (event) => {
      if (event.data && event.data.size) chunks.push(event.data);
    });
    recorder.addEventListener("stop", () => {
      clearTimeout(current.timer);
      stopTracks(stream);
      recording = null;
      if (current.cancelled) {
        setVoice("idle");
        return;
      }
      const type = recorder.mimeType || mimeType || (chunks[0] && chunks[0].type) || "";
      sendRecording(new Blob(chunks, { type }));
    });
    recorder.addEventListener("error", () => {
      current.cancelled = true;
      notice(SAY.unsupported);
    });
    try {
      recorder.start();
    } catch {
      stopTracks(stream);
      setVoice("idle");
      notice(SAY.unsupported);
      return;
    }
    recording = current;
    current.timer = setTimeout(() => stopRecording(false), MAX_RECORDING_MS);
    setVoice("recording");
  }

  /** Stop recording: send what was recorded, or drop it when `cancel`. */
  function stopRecording(cancel) {
    if (!recording) return;
    recording.cancelled = cancel;
    if (recording.recorder.state !== "inactive") recording.recorder.stop();
  }

  function httpError(status) {
    if (status === 413) return SAY.tooLong;
    if (status === 400 || status === 415) return SAY.unreadable;
    if (status === 401) return SAY.session;
    if (status === 503) return SAY.unavailable;
    return SAY.offline;
  }

  /** POST the recording to the voice gateway; show the transcript and replies, play audio. */
  async function sendRecording(blob) {
    setVoice("sending");
    setTyping(true);
    try {
      if (!blob.size) {
        notice(SAY.nothing);
        return;
      }
      const current = await confirmedSession();
      if (!current) {
        notice(SAY.offline);
        return;
      }
      const base = new URL(RASA_URL.pathname.replace(/\/*$/, "/"), RASA_URL);
      const url = new URL("webhooks/voice/utterance", base);
      const replyFormat = player.canPlayType('audio/ogg; codecs="opus"') ? "ogg" : "wav";
      const query = {
        session_id: current.session_id, token: current.token, reply_format: replyFormat,
      };
      // This tab shows the turn from the answer; the session's other tabs get it pushed.
      if (socket && socket.id) query.sid = socket.id;
      url.search = new URLSearchParams(query).toString();
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), VOICE_TIMEOUT_MS);
      let response;
      let body = null;
      try {
        response = await fetch(url.href, {
          method: "POST",
          body: blob,
          headers: { "Content-Type": blob.type || "application/octet-stream" },
          credentials: "omit",
          signal: abort.signal,
        });
        body = await response.json().catch(() => null);
      } finally {
        clearTimeout(timer);
      }
      if (!response.ok || !body || typeof body !== "object") {
        notice(httpError(response.status));
        return;
      }
      showVoiceReply(body);
    } catch {
      notice(SAY.offline);
    } finally {
      setTyping(false);
      setVoice("idle");
    }
  }

  function showVoiceReply(body) {
    const transcript = typeof body.transcript === "string" ? body.transcript.trim() : "";
    if (transcript) {
      addUser(transcript, true);
      for (const message of Array.isArray(body.messages) ? body.messages : []) addBot(message);
    } else {
      // Nothing was heard: Rasa was not asked, so this is a notice, not a bot message.
      const text = typeof body.reply_text === "string" && body.reply_text ? body.reply_text : "";
      notice(text || SAY.nothing);
    }
    playReply(body.audio);
  }

  /** Play the spoken reply (base64 audio) through the widget's <audio> element. */
  function playReply(audio) {
    if (!audio || typeof audio.base64 !== "string" || !audio.base64) return;
    const mime = typeof audio.mime === "string" && /^audio\/[\w.+-]+$/.test(audio.mime)
      ? audio.mime : "audio/wav";
    let bytes;
    try {
      const raw = atob(audio.base64);
      bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    } catch {
      return;
    }
    if (playerUrl) URL.revokeObjectURL(playerUrl);
    playerUrl = URL.createObjectURL(new Blob([bytes], { type: mime }));
    player.dataset.bytes = String(bytes.length);
    player.dataset.state = "loading";
    delete player.dataset.duration;
    player.src = playerUrl;
    player.play().catch(() => {
      // Autoplay refused (or no audio output): the reply is on screen anyway.
      if (player.dataset.state === "loading") player.dataset.state = "blocked";
    });
  }

  player.addEventListener("loadedmetadata", () => {
    if (Number.isFinite(player.duration)) player.dataset.duration = player.duration.toFixed(3);
  });
  player.addEventListener("playing", () => { player.dataset.state = "playing"; });
  player.addEventListener("ended", () => { player.dataset.state = "ended"; });
  player.addEventListener("error", () => { player.dataset.state = "error"; });

  micButton.addEventListener("click", () => {
    if (voice === "idle") startRecording();
    else if (voice === "recording") stopRecording(false);
  });
  setVoice("idle");

  function setOpen(open) {
    if (!open) stopRecording(true);
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
    if (event.key !== "Escape") return;
    if (recording) stopRecording(true); // Escape while recording only drops the recording
    else setOpen(false);
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
