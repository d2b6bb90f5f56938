// A quiz's question bank (console/templates/questions.html): adds a question and retires one
// through the operator API, with the session's CSRF token; the page reloads on success and shows
// the API's refusal (in the operator's language when the console knows the code) otherwise.
"use strict";
(function () {
  const form = document.getElementById("question-form");
  if (!form) return;
  const { api: call, explain, t } = window.PromoConsole;
  const base = `/operator/activities/${form.dataset.activity}/questions`;
  const error = document.getElementById("question-error");

  function refuse(result) {
    error.textContent = explain(result);
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
