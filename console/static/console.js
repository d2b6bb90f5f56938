// The console's few behaviours: calls to the operator API with the session's CSRF token, the
// wheel form's prize table editor (odds and expected cost as the operator types), the action
// buttons (with confirmations), the clerk's redemption screen, the live dashboard's chart.
"use strict";
(function () {
  const MESSAGES = JSON.parse(document.getElementById("messages").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const t = (key) => MESSAGES[key] || key;
  const SHANGHAI = "+08:00";

  async function api(method, url, body) {
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

  function explain(result) {
    const data = result.data || {};
    const known = data.code && MESSAGES[data.code];
    const field = data.details && data.details.field ? ` (${data.details.field})` : "";
    return (known || data.message || `HTTP ${result.status}`) + field;
  }

  // for the pages' own scripts (simulator.js, questions.js, lists.js), loaded after this one
  window.PromoConsole = { api, explain, t };

  function showError(id, result) {
    const box = document.getElementById(id);
    if (!box) return;
    box.textContent = explain(result);
    box.hidden = false;
  }

  // --- the wheel form -------------------------------------------------------------------------
  const form = document.getElementById("wheel-form");
  if (form) {
    const spec = JSON.parse(document.getElementById("spec").textContent);
    const body = document.querySelector("#prize-table tbody");
    const TYPES = ["goods", "coupon", "points", "thanks"];
    const HIDDEN = ["daily_stock", "per_user_cap", "points", "unlock_after_draws", "release"];

    function row(prize) {
      const tr = document.createElement("tr");
      tr.className = "prize";
      const options = TYPES.map((x) => `<option value="${x}">${x}</option>`).join("");
      tr.innerHTML =
        `<td><input data-f="name" required maxlength="100"></td>` +
        `<td><select data-f="type">${options}</select></td>` +
        `<td><input data-f="weight" type="number" min="0" required class="small"></td>` +
        `<td><input data-f="stock" type="number" min="0" class="small"></td>` +
        `<td><input data-f="value_cny" type="number" min="0" step="0.01" class="small"></td>` +
        `<td class="odds">-</td>` +
        `<td><button type="button" class="remove" aria-label="${t("remove")}">×</button></td>`;
      tr.querySelector('[data-f="name"]').value = prize.name || "";
      tr.querySelector('[data-f="type"]').value = prize.type || "goods";
      tr.querySelector('[data-f="weight"]').value = prize.weight ?? 0;
      tr.querySelector('[data-f="stock"]').value = prize.stock ?? "";
      tr.querySelector('[data-f="value_cny"]').value = prize.value_cny ?? "";
      // What the table does not show (caps, daily stock, points, an unlock tier, a release plan) is kept as it was.
      const kept = {};
      HIDDEN.forEach((f) => { if (prize[f] !== undefined && prize[f] !== null) kept[f] = prize[f]; });
      tr.dataset.kept = JSON.stringify(kept);
      tr.querySelector(".remove").addEventListener("click", () => { tr.remove(); recompute(); });
      body.appendChild(tr);
    }

    function prizes() {
      return [...body.querySelectorAll("tr.prize")].map((tr) => {
        const get = (f) => tr.querySelector(`[data-f="${f}"]`).value.trim();
        const prize = { ...JSON.parse(tr.dataset.kept || "{}"), name: get("name"), type: get("type"), weight: parseInt(get("weight") || "0", 10) };
        if (get("stock") !== "") prize.stock = parseInt(get("stock"), 10);
        if (get("value_cny") !== "") prize.value_cny = get("value_cny");
        return prize;
      });
    }

    function recompute() {
      const list = prizes();
      const total = list.reduce((sum, p) => sum + (p.weight || 0), 0);
      let cost = 0;
      [...body.querySelectorAll("tr.prize")].forEach((tr, i) => {
        const odds = total ? list[i].weight / total : 0;
        cost += odds * parseFloat(list[i].value_cny || "0") * 1000;
        tr.querySelector(".odds").textContent = (odds * 100).toFixed(4) + "%";
      });
      document.getElementById("expected-cost").textContent = cost.toFixed(2);
    }

    form.name.value = spec.name || "";
    form.type.value = spec.type || "wheel";
    form.starts_at.value = (spec.starts_at || "").slice(0, 16);
    form.ends_at.value = (spec.ends_at || "").slice(0, 16);
    form.per_user_daily.value = (spec.limits && spec.limits.per_user_daily) || "";
    (spec.prizes || []).forEach(row);
    recompute();
    body.addEventListener("input", recompute);
    document.getElementById("add-prize").addEventListener("click", () => {
      row({ name: "", type: "coupon", weight: 0 });
      recompute();
      body.querySelector("tr.prize:last-child input").focus();
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const limits = form.per_user_daily.value ? { per_user_daily: parseInt(form.per_user_daily.value, 10) } : {};
      const payload = {
        type: form.type.value,
        name: form.name.value.trim(),
        starts_at: form.starts_at.value + ":00" + SHANGHAI,
        ends_at: form.ends_at.value + ":00" + SHANGHAI,
        timezone: "Asia/Shanghai",
        limits,
        prizes: prizes(),
      };
      if (spec.budget_cny) payload.budget_cny = spec.budget_cny; // kept as it was (lottery/pacing.py)
      const id = form.dataset.activity;
      const result = id
        ? await api("PATCH", `/operator/activities/${id}`, payload)
        : await api("POST", "/operator/activities", payload);
      if (result.ok) {
        window.location.href = `/console/activities/${result.data.id}`;
      } else {
        showError("form-error", result);
      }
    });
  }

  // --- the JSON form (gameplays without a prize table) and templates ---------------------------
  const jsonForm = document.getElementById("json-form");
  if (jsonForm) {
    jsonForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      let payload;
      try {
        payload = JSON.parse(jsonForm.spec.value);
      } catch (e) {
        showError("form-error", { status: 422, data: { code: "invalid_json" } });
        return;
      }
      const id = jsonForm.dataset.activity;
      const result = id
        ? await api("PATCH", `/operator/activities/${id}`, payload)
        : await api("POST", "/operator/activities", payload);
      if (result.ok) window.location.href = `/console/activities/${result.data.id}`;
      else showError("form-error", result);
    });
  }
  const fromTemplate = document.getElementById("from-template");
  if (fromTemplate) {
    fromTemplate.addEventListener("click", async () => {
      const choice = document.getElementById("template-choice").value;
      const result = await api("POST", `/operator/templates/${choice}/activities`, {});
      if (result.ok) window.location.href = `/console/activities/${result.data.id}`;
      else window.alert(explain(result));
    });
  }

  // --- action buttons on an activity's page ---------------------------------------------------
  const meta = document.getElementById("activity-meta");
  if (meta) {
    const id = JSON.parse(meta.textContent).id;
    document.querySelectorAll("[data-action]").forEach((button) => {
      button.addEventListener("click", async () => {
        const action = button.dataset.action;
        if (button.dataset.confirm && !window.confirm(t(button.dataset.confirm))) return;
        let result;
        if (action === "delete") {
          result = await api("DELETE", `/operator/activities/${id}`);
          if (result.ok) { window.location.href = "/console/activities"; return; }
        } else if (action === "clone") {
          result = await api("POST", `/operator/activities/${id}/clone`, {});
          if (result.ok) { window.location.href = `/console/activities/${result.data.id}`; return; }
        } else if (action === "template") {
          result = await api("POST", `/operator/activities/${id}/template`, {});
          if (result.ok) { window.alert(t("template_saved")); return; }
        } else if (action === "extend") {
          const value = document.getElementById("new-end").value;
          result = await api("PATCH", `/operator/activities/${id}/window`, { ends_at: value + ":00" + SHANGHAI });
        } else if (action === "stock") {
          const units = parseInt(document.getElementById(`stock-${button.dataset.prize}`).value || "0", 10);
          result = await api("POST", `/operator/activities/${id}/prizes/${button.dataset.prize}/stock`, { units });
        } else {
          result = await api("POST", `/operator/activities/${id}/${action}`);
        }
        if (result.ok) window.location.reload();
        else showError("action-error", result);
      });
    });
  }

  // --- the live dashboard's chart -------------------------------------------------------------
  let chart = null;
  function drawChart() {
    const holder = document.getElementById("chart");
    const data = document.querySelector("#dashboard .chart-data");
    if (!holder || !data || !window.echarts) return;
    const series = JSON.parse(data.textContent);
    if (!chart) chart = window.echarts.init(holder);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 16, top: 16, bottom: 32 },
      xAxis: { type: "category", data: series.minutes },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: t("actions_per_minute"), type: "line", data: series.counts, areaStyle: {}, smooth: true }],
    });
    holder.dataset.total = String(series.counts.reduce((a, b) => a + b, 0));
  }
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target && event.target.id === "dashboard") drawChart();
  });

  // --- the clerk's redemption screen ----------------------------------------------------------
  const redeem = document.getElementById("redeem-form");
  if (redeem) {
    redeem.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = redeem.code.value.trim();
      const body = value.startsWith("RSV:") ? { qr: value } : { code: value.toUpperCase() };
      if (redeem.store.value) body.store_id = redeem.store.value;
      const result = await api("POST", `/operator/activities/${redeem.activity.value}/redemptions`, body);
      const box = document.getElementById("redeem-result");
      box.hidden = false;
      box.className = "result " + (result.ok ? "ok" : "refused");
      box.innerHTML = "";
      const title = document.createElement("div");
      title.className = "headline";
      title.textContent = result.ok ? "✔ " + t("redeem_ok") : "✘ " + t("redeem_refused");
      const detail = document.createElement("div");
      detail.textContent = result.ok
        ? `${result.data.code} · ${result.data.item.name} · ${result.data.date}`
        : explain(result);
      box.append(title, detail);
      redeem.code.value = "";
      redeem.code.focus();
    });
  }
})();
