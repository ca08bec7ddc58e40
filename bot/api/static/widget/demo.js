/*
 * The demo shop's login (bot/api/routes/demo_login.py): sign in, keep the widget's identity
 * token fresh, sign out, and link a Telegram chat to the account (a one-time deep link from
 * POST /demo/telegram-link, shown with textContent). A real shop does the same with its own login: mint a token on its
 * backend, hand it to Touchline.setIdentity(), and call Touchline.logout() on logout.
 */
(() => {
  "use strict";

  const form = document.getElementById("login");
  if (!form) return;
  const shown = document.getElementById("signed-in");
  const signOut = document.getElementById("sign-out");
  const error = document.getElementById("login-error");
  const telegram = document.getElementById("telegram");
  const telegramBox = document.getElementById("telegram-link");
  const telegramText = document.getElementById("telegram-text");
  const telegramUrl = document.getElementById("telegram-url");
  const telegramCode = document.getElementById("telegram-code");
  const DEEP_LINK = /^https:\/\/t\.me\/[A-Za-z0-9_]{1,64}\?start=([A-Za-z0-9_-]{1,64})$/;
  const fields = form.querySelectorAll("label, #sign-in");
  let refreshTimer = null;

  function showSignedIn(name) {
    shown.textContent = name ? `Signed in as ${name}` : "";
    shown.hidden = !name;
    signOut.hidden = !name;
    telegram.hidden = !name;
    if (!name) showTelegram("", null);
    for (const field of fields) field.hidden = Boolean(name);
  }

  /** Show `text`, and a deep link with its code when `url` is one (else no link). */
  function showTelegram(text, url) {
    const match = typeof url === "string" ? DEEP_LINK.exec(url) : null;
    telegramText.textContent = text;
    telegramUrl.textContent = match ? url : "";
    telegramUrl.hidden = !match;
    if (match) telegramUrl.href = url;
    else telegramUrl.removeAttribute("href");
    telegramCode.textContent = match
      ? `or send /start ${match[1]} to the bot. The link works once, for 10 minutes.` : "";
    telegramBox.hidden = !text;
  }

  /** Ask for a fresh token a minute before this one (`expiresIn` seconds) expires. */
  function scheduleRefresh(expiresIn) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, Math.max(expiresIn - 60, 10) * 1000);
  }

  async function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
  }

  async function refresh() {
    const response = await post("/demo/identity").catch(() => null);
    if (!response || !response.ok) {
      showSignedIn("");
      return;
    }
    const data = await response.json();
    window.Touchline.setIdentity(data.token);
    scheduleRefresh(data.expires_in);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const response = await post("/demo/login", {
      email: form.elements.email.value, password: form.elements.password.value,
    }).catch(() => null);
    if (!response || !response.ok) {
      error.textContent = response && response.status === 401
        ? "Wrong e-mail address or password." : "Sign-in is unavailable right now.";
      return;
    }
    const data = await response.json();
    form.elements.password.value = "";
    showSignedIn(data.name);
    window.Touchline.setIdentity(data.token);
    scheduleRefresh(data.expires_in);
  });

  telegram.addEventListener("click", async () => {
    telegram.disabled = true;
    const response = await post("/demo/telegram-link").catch(() => null);
    telegram.disabled = false;
    const data = response && response.ok ? await response.json().catch(() => null) : null;
    if (data && DEEP_LINK.test(data.url)) showTelegram("Open this link in Telegram:", data.url);
    else if (response && response.status === 401) showTelegram("Please sign in again.", null);
    else showTelegram("Telegram linking is unavailable right now.", null);
  });

  signOut.addEventListener("click", async () => {
    clearTimeout(refreshTimer);
    await post("/demo/logout").catch(() => null);
    showSignedIn("");
    window.Touchline.logout();
  });

  // A page rendered for a signed-in customer already carries a token on the widget's tag.
  if (form.dataset.customer) {
    showSignedIn(form.dataset.customer);
    scheduleRefresh(540);
  }
})();
