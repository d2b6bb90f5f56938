// A quiz's question bank (console/templates/questions.html): adds a question and retires one
// through the operator API, with the session's CSRF token; the page reloads on success and shows
// the API's refusal (in the operator's language when the console knows the code) otherwise.
"use strict";
(function () {
  const form = document.getElementById("question-form");
  if (!form) return;
  const MESSAGES = JSON.parse(document.getElementById("messages").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const t = (key) => MESSAGES[key] || key;
  const base = `/operator/activities/${form.dataset.activity}/questions`;
  const error = document.getElementById("question-error");

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  function refuse(result) {
    const data = result.data || {};
    const known = data.code && MESSAGES[data.code];
    const field = data.details && data.details.field ? ` (${data.details.field})` : "";
    error.textContent = (known || data.message || `HTTP ${result.status}`) + field;
    error.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const options = form.options.value.split("\n").map((x) => x.trim()).filter((x) => x);
    // the operator counts options from 1; the API from 0 (a number that is not an option stays
    // out of range, so the API names it)
    const answer = form.answer.value.split(/[,，\s]+/).filter((x) => x).map((x) => Number(x) - 1);
    if (answer.some((x) => !Number.isInteger(x))) {
      error.textContent = t("answer_not_an_option");
      error.hidden = false;
      return;
    }
    const body = { text: form.text.value.trim(), kind: form.kind.value, options, answer };
    if (form.explanation.value.trim()) body.explanation = form.explanation.value.trim();
    const result = await call("POST", base + "/", body);
    if (result.ok) window.location.reload();
    else refuse(result);
  });

  document.querySelectorAll("[data-retire]").forEach((button) => {
    button.addEventListener("click", async () => {
      if (!window.confirm(t("confirm_retire"))) return;
      const result = await call("DELETE", `${base}/${button.dataset.retire}`);
      if (result.ok) window.location.reload();
      else refuse(result);
    });
  });
})();
