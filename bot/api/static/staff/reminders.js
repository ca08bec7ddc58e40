// The cart-reminder settings on /staff/analytics: read, edit, save (validated by the server).
"use strict";

(() => {
  const form = document.getElementById("reminders");
  const status = document.getElementById("reminders-status");

  function fill(s) {
    form.enabled.checked = s.enabled;
    form.delay_minutes.value = s.delay_minutes;
    form.quiet_start.value = s.quiet_start;
    form.quiet_end.value = s.quiet_end;
    form.text.value = s.text;
    form.chat_idle_minutes.value = s.chat_idle_minutes;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      fill(await Staff.api("/staff/api/reminders", {
        method: "PUT",
        body: {
          enabled: form.enabled.checked, delay_minutes: Number(form.delay_minutes.value),
          quiet_start: form.quiet_start.value, quiet_end: form.quiet_end.value, text: form.text.value,
          chat_idle_minutes: Number(form.chat_idle_minutes.value),
        },
      }));
      status.textContent = "saved";
      status.className = "meta ok";
    } catch (error) {
      status.textContent = error.message;
      status.className = "meta low";
    }
  });
  Staff.onReady(async () => fill(await Staff.api("/staff/api/reminders")));
})();
