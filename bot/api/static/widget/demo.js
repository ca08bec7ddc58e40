/*
 * The demo shop's login (bot/api/routes/demo_login.py): sign in, keep the widget's identity
 * token fresh, sign out. A real shop does the same with its own login: mint a token on its
 * backend, hand it to Touchline.setIdentity(), and call Touchline.logout() on logout.
 */
(() => {
  "use strict";

  const form = document.getElementById("login");
  if (!form) return;
  const shown = document.getElementById("signed-in");
  const signOut = document.getElementById("sign-out");
  const error = document.getElementById("login-error");
  const fields = form.querySelectorAll("label, #sign-in");
  let refreshTimer = null;

  function showSignedIn(name) {
    shown.textContent = name ? `Signed in as ${name}` : "";
    shown.hidden = !name;
    signOut.hidden = !name;
    for (const field of fields) field.hidden = Boolean(name);
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
