// What every demo page shares: its settings, calling the API, showing answers, errors and odds.
// A mini-program does the same with wx.request / my.request: same URLs, headers and bodies.
"use strict";

const Demo = (() => {
  // Settings come from the query string: ?activity=1&token=<player JWT>&api=https://api.example.com
  // (api: the API's base URL; empty means the origin this page was served from).
  const query = new URLSearchParams(location.search);
  const settings = {
    activity: query.get("activity") || "",
    token: query.get("token") || "",
    api: (query.get("api") || "").replace(/\/+$/, ""),
  };

  // ---- calling the API --------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body, requestId = null) {
      super(body.message || `HTTP ${status}`);
      this.status = status; // 0: no answer (network down, or a CORS refusal)
      this.code = body.code || "http_error"; // every error answer is {code, message, details}
      this.details = body.details || {};
      this.requestId = body.request_id || requestId; // what support asks for
    }
  }

  // One call: the JSON answer, or an ApiError for a 4xx/5xx.
  async function call(method, path, { body, key, auth = true } = {}) {
    const headers = {};
    if (auth && settings.token) headers["Authorization"] = `Bearer ${settings.token}`;
    if (key) headers["Idempotency-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(settings.api + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, { code: "network_error", message: `the API did not answer (${e.message})` });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
    if (!response.ok) throw new ApiError(response.status, data || {}, response.headers.get("X-Request-Id"));
    return data;
  }

  // A fresh Idempotency-Key for each player action (a tap), reused by its retries.
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // Pages on plain http (not localhost) have no randomUUID: a version-4 UUID by hand.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // A change that must happen at most once (a draw, a reservation): one key for the action,
  // retried with the SAME key when we cannot know whether it happened (no answer, 503) or it is
  // still being processed (409 idempotency_key_in_flight). The server answers a replay with the
  // first result ("replayed": true), so a retry never draws twice.
  async function once(method, path, body) {
    const key = newKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return await call(method, path, { body, key });
      } catch (e) {
        const unsure = e.status === 0 || e.status === 503 || e.code === "idempotency_key_in_flight";
        if (!unsure || attempt === 3) throw e;
        await sleep(400 * attempt);
      }
    }
  }

  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

  // A device id kept by this browser (the assist caps count helps per device).
  function deviceId() {
    let id = localStorage.getItem("promo-demo-device");
    if (!id) localStorage.setItem("promo-demo-device", (id = `web-${newKey().slice(0, 13)}`));
    return id;
  }

  // ---- showing things ------------------------------------------------------------------------

  const $ = (selector) => document.querySelector(selector);

  // el("td", {class: "x"}, "text", child...): a DOM node; text is never parsed as HTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  // The line under the game: "" clears it; an ApiError shows its code and message.
  function say(text) {
    const box = $("#message");
    box.className = "message";
    box.textContent = text;
  }

  function fail(error) {
    const box = $("#message");
    box.className = "message error";
    box.textContent = !(error instanceof ApiError) ? String(error)
      : `${error.message} (${error.code}${error.requestId ? `, request ${error.requestId}` : ""})`;
    console.error(error);
  }

  // "2026-01-01T00:00:00+08:00" -> "2026-01-01 00:00", in the activity's own time zone.
  const when = (rfc3339) => rfc3339.slice(0, 16).replace("T", " ");

  // The odds disclosure every lottery must show (Anti-Unfair Competition Law art. 10), from
  // GET /activities/{id}: each prize with its odds, and the fallback rule.
  function showOdds(activity) {
    // An unlock tier and the pity rule (保底) are disclosed with them, in the view's plain words.
    // A paced prize shows its release plan (units per hour or day: lottery/pacing.py).
    const released = (r) => r && el("div", { class: "muted" },
      `${r.units} released per ${r.per}` + (r.rollover ? ", unreleased units carry over" : ""));
    const rows = activity.prizes.map((p) =>
      el("tr", {}, el("td", {}, p.name, p.unlock_rule ? el("div", { class: "muted" }, p.unlock_rule) : null,
        released(p.release)), el("td", {}, p.odds_percent)));
    $("#odds").replaceChildren(
      el("h2", {}, "Prizes and odds"),
      el("table", { class: "odds" }, el("tr", {}, el("th", {}, "Prize"), el("th", {}, "Odds")), ...rows),
      activity.odds_rule ? el("p", { class: "muted" }, activity.odds_rule) : null,
      activity.pity ? el("p", { class: "muted" }, activity.pity.rule) : null,
      el("p", { class: "muted" }, `Open ${when(activity.starts_at)} to ${when(activity.ends_at)} (${activity.timezone})`),
    );
  }

  // The settings form at the bottom of each page: a plain GET form, submitting reloads the
  // page with the new query string. It is open while something the page needs is missing.
  function settingsForm(needs = ["activity", "token"], extra = {}) {
    const missing = needs.filter((name) => !settings[name]);
    const field = (name, label, placeholder) =>
      el("label", {}, label, el("input", { name, value: settings[name], placeholder }));
    const hidden = Object.entries(extra).map(([name, value]) => el("input", { type: "hidden", name, value }));
    const form = el(
      "form", { method: "get" },
      needs.includes("activity") ? field("activity", "Activity id", "1") : null,
      field("token", "Player token (promo token --user u1)", "eyJ..."),
      field("api", "API base URL (empty: this site)", "https://api.example.com"),
      ...hidden,
      el("button", { type: "submit" }, "Use these"),
    );
    const details = el("details", { id: "settings" }, el("summary", {}, "Settings"), form);
    details.open = missing.length > 0;
    document.body.append(details);
    if (missing.length) say(`Set ${missing.join(" and ")} below to start.`);
    return missing.length === 0;
  }

  return { settings, ApiError, call, once, newKey, sleep, deviceId, $, el, say, fail, showOdds, settingsForm };
})();
