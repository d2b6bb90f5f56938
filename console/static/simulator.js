// The pre-launch simulator panel (console/templates/_simulator.html): sends the traffic model to
// POST /operator/activities/{id}/simulations with the session's CSRF token, then shows the
// expected and P95 cost, each prize's stock-out dates and two charts (ECharts, vendored).
"use strict";
(function () {
  const panel = document.getElementById("simulator");
  if (!panel) return;
  const { api, explain, t } = window.PromoConsole;
  const form = document.getElementById("simulator-form");
  const error = document.getElementById("simulator-error");
  const result = document.getElementById("simulator-result");
  const cny = (x) => "¥" + Number(x).toLocaleString(undefined, { maximumFractionDigits: 0 });
  const pct = (x) => (100 * x).toFixed(1) + "%";
  const when = (x) => (x ? x.slice(0, 16).replace("T", " ") : "–");
  let charts = [];

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function show(sim) {
    const put = (key, text) => { panel.querySelector(`[data-k="${key}"]`).textContent = text; };
    put("cost_mean", cny(sim.cost_cny.mean));
    put("cost_p95", cny(sim.cost_cny.p95));
    put("cost_per_day", cny(sim.cost_per_day_cny.mean));
    put("peak", cny(sim.peak_day_cost_p95_cny));
    put("draws", Math.round(sim.draws.mean).toLocaleString());
    put("share_winning", pct(sim.share_winning));
    put("share_drawing", pct(sim.share_drawing));
    const body = document.querySelector("#sim-prizes tbody");
    body.innerHTML = "";
    for (const p of sim.prizes) {
      const tr = document.createElement("tr");
      let out = t("sim_never_out");
      if (p.stock_out && p.stock_out.median) {
        out = `${when(p.stock_out.median)} (P10 ${when(p.stock_out.p10)} · P90 ${when(p.stock_out.p90)})`;
      } else if (p.stock_out && p.stock_out.share_of_runs > 0) {
        out = `${pct(p.stock_out.share_of_runs)} ${t("sim_of_runs")}`;
      }
      tr.append(cell(p.name), cell(pct(p.odds)), cell(p.stock === null ? "∞" : String(p.stock)),
        cell(`${Math.round(p.units.p50)} (P95 ${Math.round(p.units.p95)})`), cell(cny(p.cost_cny.mean)), cell(out));
      body.append(tr);
    }
    const notes = document.getElementById("sim-notes");
    notes.innerHTML = "";
    for (const note of sim.notes) { const li = document.createElement("li"); li.textContent = note; notes.append(li); }
    result.hidden = false;
    charts.forEach((c) => c.dispose());
    charts = [];
    if (!window.echarts) return;
    const days = window.echarts.init(document.getElementById("sim-chart-days"));
    days.setOption({
      animation: false, tooltip: { trigger: "axis" }, legend: { top: 0, data: [t("sim_mean"), "P95"] },
      grid: { left: 56, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: sim.per_day.map((d) => d.day) }, yAxis: { type: "value" },
      series: [
        { name: t("sim_mean"), type: "line", data: sim.per_day.map((d) => d.cost_mean_cny), areaStyle: {} },
        { name: "P95", type: "line", data: sim.per_day.map((d) => d.cost_p95_cny), lineStyle: { type: "dashed" } },
      ],
    });
    const deciles = window.echarts.init(document.getElementById("sim-chart-deciles"));
    deciles.setOption({
      animation: false, tooltip: { trigger: "axis" }, legend: { top: 0, data: [t("sim_win_rate"), t("sim_share_winning")] },
      grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: sim.deciles.map((d) => "D" + d.decile) },
      yAxis: { type: "value", axisLabel: { formatter: (v) => (100 * v).toFixed(0) + "%" } },
      series: [
        { name: t("sim_win_rate"), type: "bar", data: sim.deciles.map((d) => d.win_rate) },
        { name: t("sim_share_winning"), type: "line", data: sim.deciles.map((d) => d.share_winning) },
      ],
    });
    charts = [days, deciles];
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = { members: Number(form.members.value), draws_per_day: Number(form.draws_per_day.value) };
    if (form.days.value) body.days = Number(form.days.value);
    if (form.runs.value) body.runs = Number(form.runs.value);
    const button = document.getElementById("simulate");
    button.disabled = true;
    button.textContent = t("simulating");
    try {
      const answer = await api("POST", `/operator/activities/${panel.dataset.activity}/simulations`, body);
      if (answer.ok) {
        show(answer.data);
      } else {
        error.textContent = explain(answer);
        error.hidden = false;
      }
    } finally {
      button.disabled = false;
      button.textContent = t("run_simulation");
    }
  });
})();
