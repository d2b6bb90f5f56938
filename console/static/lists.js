// Audience lists (console/templates/lists.html): upload a CSV file as a new list, look up a member,
// delete a list, through the operator API with the session's CSRF token; refusals are shown in the
// operator's language when the console knows the code.
"use strict";
(function () {
  const { api, explain, t } = window.PromoConsole;
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const error = document.getElementById("lists-error");

  async function send(url, file) {  // the CSV file as it is (api() sends JSON)
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/csv", "X-CSRF-Token": CSRF },
      body: file,
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  function refuse(result) {  // a bad id names its line: details.field "line N"
    error.textContent = explain(result);
    error.hidden = false;
  }

  const upload = document.getElementById("list-upload");
  if (upload) {
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const file = upload.file.files[0];
      if (!file) return;
      const button = document.getElementById("upload-button");
      button.disabled = true;
      button.textContent = t("uploading");
      const query = new URLSearchParams({ name: upload.name.value.trim(), kind: upload.kind.value });
      try {
        const result = await send(`/operator/lists?${query}`, file);
        if (result.ok) window.location.reload();
        else refuse(result);
      } finally {
        button.disabled = false;
        button.textContent = t("upload");
      }
    });
  }

  const check = document.getElementById("member-check");
  if (check) {
    check.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const member = encodeURIComponent(check.member.value.trim());
      const result = await api("GET", `/operator/lists/${check.list.value}/members/${member}`);
      const answer = document.getElementById("member-answer");
      if (!result.ok) { answer.textContent = ""; refuse(result); return; }
      answer.textContent = result.data.member ? "✔ " + t("on_list") : "✘ " + t("not_on_list");
    });
  }

  document.querySelectorAll("[data-delete]").forEach((button) => {
    button.addEventListener("click", async () => {
      if (!window.confirm(t("confirm_delete_list"))) return;
      error.hidden = true;
      const result = await api("DELETE", `/operator/lists/${button.dataset.delete}`);
      if (result.ok) window.location.reload();
      else refuse(result);
    });
  });
})();
