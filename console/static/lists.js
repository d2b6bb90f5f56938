// Audience lists (console/templates/lists.html): upload a CSV file as a new list, look up a member,
// delete a list, through the operator API with the session's CSRF token; refusals are shown in the
// operator's language when the console knows the code.
"use strict";
(function () {
  const MESSAGES = JSON.parse(document.getElementById("messages").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const t = (key) => MESSAGES[key] || key;
  const error = document.getElementById("lists-error");

  async function call(method, url, body, type) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": type || "application/json", "X-CSRF-Token": CSRF },
      body,
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
    const where = data.details && data.details.line ? ` (${t("line")} ${data.details.line})` : "";
    error.textContent = (known || data.message || `HTTP ${result.status}`) + where;
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
        const result = await call("POST", `/operator/lists?${query}`, file, "text/csv");
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
      const result = await call("GET", `/operator/lists/${check.list.value}/members/${member}`);
      const answer = document.getElementById("member-answer");
      if (!result.ok) { answer.textContent = ""; refuse(result); return; }
      answer.textContent = result.data.member ? "✔ " + t("on_list") : "✘ " + t("not_on_list");
    });
  }

  document.querySelectorAll("[data-delete]").forEach((button) => {
    button.addEventListener("click", async () => {
      if (!window.confirm(t("confirm_delete_list"))) return;
      error.hidden = true;
      const result = await call("DELETE", `/operator/lists/${button.dataset.delete}`);
      if (result.ok) window.location.reload();
      else refuse(result);
    });
  });
})();
