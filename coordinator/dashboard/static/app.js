// The Hoist dashboard page: plain JavaScript, no build step. It reads /api/rollouts and /api/fleet,
// and listens to /api/events (server-sent events): each event of the HOIST_EVENTS stream is added to
// the log, and a notice that rollout or inventory records changed makes it read them again.
"use strict";

const MAX_EVENTS = 500;
const FLEET_EVERY_MS = 1000;
const POLL_MS = 5000;
const TOKEN_KEY = "hoist-dashboard-token";

const page = {
  tokenRequired: false,
  token: sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  loaded: { rollouts: false, fleet: false },
};

const byId = (id) => document.getElementById(id);

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char]);
}

function clock(at) {
  const date = at === undefined ? new Date() : new Date(at);
  return Number.isNaN(date.getTime()) ? "" : date.toTimeString().slice(0, 8);
}

function ago(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

function notice(text, isError = false) {
  const element = byId("notice");
  element.textContent = text;
  element.classList.toggle("error", isError);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message ?? `${path}: HTTP ${response.status}`);
  return body;
}

/** Runs `load` now, or once more right after the run in progress: never two at once, none lost. */
function coalesced(load) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await load();
      } while (again);
    } catch (err) {
      notice(err.message, true);
    } finally {
      running = false;
    }
  };
}

/** `fn` at most once per `ms`, the last call always honoured. */
function throttled(fn, ms) {
  let last = 0;
  let timer;
  return function call() {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      void fn();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        void fn();
      }, wait);
    }
  };
}

function markLoaded(part) {
  page.loaded[part] = true;
  if (page.loaded.rollouts && page.loaded.fleet && !document.body.dataset.ready) {
    document.body.dataset.ready = "true";
    window.hoistReadyMs = performance.now();
  }
}

// ---- rollouts

function renderNode(node) {
  const step = node.running ? node.running : node.status;
  const detail = node.running ? `${node.status}` : node.next && node.status !== "pending" ? `next ${node.next}` : "";
  const track = node.track === "forward" ? "" : ` (${node.track})`;
  return `<div class="node" data-node="${escapeHtml(node.node)}" data-status="${escapeHtml(node.status)}"${node.running ? ` data-running="${escapeHtml(node.running)}"` : ""}${node.error ? ` title="${escapeHtml(node.error)}"` : ""}>
    <div class="name">${escapeHtml(node.node)}</div>
    <div class="step now">${escapeHtml(step)}${escapeHtml(track)}</div>
    <div class="step">${escapeHtml(detail)}${node.attempt > 1 ? ` · attempt ${node.attempt}` : ""}</div>
  </div>`;
}

function renderBatch(label, nodes, current, index) {
  return `<div class="batch${current ? " current" : ""}"${index === undefined ? "" : ` data-batch="${index}"`}><div class="batch-label">${escapeHtml(label)}</div>${nodes.map(renderNode).join("")}</div>`;
}

function renderHop(hop) {
  const batches = hop.batches.map((batch, index) => renderBatch(`batch ${index + 1}${index < hop.canaryBatches ? " (canary)" : ""}`, batch, hop.current && hop.currentBatch === index, index)).join("");
  const others = hop.others.length > 0 ? renderBatch("already on target", hop.others, false) : "";
  return `<div class="hop${hop.current ? " current" : ""}" data-hop="${hop.index}">
    <div class="hop-head">hop ${hop.index + 1}: ${escapeHtml(hop.from)} → ${escapeHtml(hop.to)} · ${escapeHtml(hop.mode)}${hop.mode === "full-stop" ? ` (${escapeHtml(hop.reason)})` : ""}${hop.promoted ? " · promoted" : ""}</div>
    <div class="batches">${batches}${others}</div>
  </div>`;
}

function renderRollout(rollout) {
  const shown = rollout.terminal ? [] : [rollout.paused ? "resume" : "pause", "promote", "abort"];
  const buttons = shown
    .map((control) => {
      const enabled = rollout.controls.includes(control);
      return `<button type="button" data-control="${control}" data-cluster="${escapeHtml(rollout.cluster)}" data-id="${escapeHtml(rollout.id)}"${enabled ? "" : " disabled"}>${control}</button>`;
    })
    .join("");
  const problems = [rollout.failure, ...(rollout.preflight ?? []).map((message) => `preflight: ${message}`)].filter(Boolean);
  return `<article class="rollout${rollout.terminal ? " terminal" : ""}" data-rollout="${escapeHtml(rollout.id)}" data-phase="${escapeHtml(rollout.phase)}">
    <div class="rollout-head">
      <span class="title">${escapeHtml(rollout.cluster)} / ${escapeHtml(rollout.service)} → ${escapeHtml(rollout.target)}</span>
      <span class="phase" data-phase="${escapeHtml(rollout.phase)}">${escapeHtml(rollout.phase)}</span>
      <span class="muted">${escapeHtml(rollout.id)} · started ${clock(rollout.createdAt)} by ${escapeHtml(rollout.createdBy)} · failures ${rollout.failures}/${rollout.maxFailures}</span>
      <span class="controls">${buttons}</span>
    </div>
    ${problems.map((problem) => `<div class="failure">${escapeHtml(problem)}</div>`).join("")}
    ${rollout.hops.map(renderHop).join("")}
    <ol class="history">${rollout.history.map((entry) => `<li>${clock(entry.at)} ${escapeHtml(entry.text)}</li>`).join("")}</ol>
  </article>`;
}

const refreshRollouts = coalesced(async () => {
  const { rollouts } = await getJson("/api/rollouts");
  byId("rollouts").innerHTML = rollouts.length === 0 ? `<p class="empty">no rollouts yet; start one with <code>hoist rollout start</code></p>` : rollouts.map(renderRollout).join("");
  markLoaded("rollouts");
});

// ---- fleet

const refreshFleet = coalesced(async () => {
  const { now, rows } = await getJson("/api/fleet");
  const body = rows
    .map(
      (row) => `<tr class="${row.drift.length > 0 ? "drift" : ""}" data-node="${escapeHtml(row.node)}" data-cluster="${escapeHtml(row.cluster)}">
      <td>${escapeHtml(row.cluster)}</td><td>${escapeHtml(row.node)}</td><td>${escapeHtml(row.service)}</td>
      <td class="version" title="${escapeHtml(row.sha256 ?? "")}">${escapeHtml(row.version ?? "-")}</td>
      <td class="health-${escapeHtml(row.health)}">${escapeHtml(row.health)}</td>
      <td>${ago(now - row.lastSeen)}</td><td>${escapeHtml(row.agentVersion)}</td>
      <td class="drift">${row.drift.length > 0 ? `⚠ ${escapeHtml(row.drift.join("; "))}` : ""}</td></tr>`,
    )
    .join("");
  byId("fleet").tBodies[0].innerHTML = rows.length === 0 ? `<tr><td colspan="8" class="empty">no agent has published an inventory yet</td></tr>` : body;
  const nodes = new Set(rows.map((row) => `${row.cluster}/${row.node}`)).size;
  const drifting = rows.filter((row) => row.drift.length > 0).length;
  byId("fleet-summary").textContent = `${nodes} node${nodes === 1 ? "" : "s"}${drifting > 0 ? `, ${drifting} drifting` : ""}`;
  markLoaded("fleet");
});
const refreshFleetSoon = throttled(refreshFleet, FLEET_EVERY_MS);

// ---- events

function eventLine(subject, event) {
  const cluster = subject.split(".")[2] ?? "";
  const who = event.node ? `${cluster}/${event.node}` : `${cluster} rollout`;
  if (event.type === "progress") {
    if (event.message === undefined && event.percent === undefined) return undefined;
    const percent = event.percent === undefined ? "" : ` ${Math.round(event.percent)}%`;
    return { who, text: `[${event.step}] ${event.message ?? ""}${percent}`, key: `${who}/${event.verb}/${event.step}/${event.key}` };
  }
  const phase = event.type === "transition" && event.phase ? `  (phase ${event.phase})` : "";
  return { who, text: `${event.message ?? ""}${phase}` };
}

function addEvent({ subject, event }) {
  const line = eventLine(subject, event);
  if (!line) return;
  const list = byId("events");
  const item = document.createElement("li");
  item.dataset.type = event.type ?? "";
  if (line.key) item.dataset.key = line.key;
  item.innerHTML = `${clock(event.at)}  <span class="who">${escapeHtml(line.who)}</span>  ${escapeHtml(line.text)}`;
  // Progress of one step updates its line instead of adding ~100 percent lines per artifact.
  const first = list.firstElementChild;
  if (line.key && first && first.dataset.key === line.key) first.replaceWith(item);
  else list.prepend(item);
  while (list.childElementCount > MAX_EVENTS) list.lastElementChild.remove();
}

function listen() {
  const source = new EventSource("/api/events");
  const connection = byId("connection");
  source.onopen = () => {
    connection.dataset.state = "live";
    connection.textContent = "live";
    void refreshRollouts();
    void refreshFleet();
  };
  source.onerror = () => {
    connection.dataset.state = "down";
    connection.textContent = "reconnecting";
  };
  source.addEventListener("hoist", (message) => {
    const data = JSON.parse(message.data);
    addEvent(data);
    if (data.event?.rollout) void refreshRollouts();
  });
  source.addEventListener("rollouts", () => void refreshRollouts());
  source.addEventListener("fleet", () => refreshFleetSoon());
  source.addEventListener("trouble", (message) => notice(JSON.parse(message.data).message, true));
}

// ---- controls

async function sendControl(cluster, id, control) {
  if (control === "abort" && !confirm(`Abort rollout ${id}? The work in progress finishes, then the rollout stops for good.`)) return;
  for (;;) {
    const headers = { "content-type": "application/json" };
    if (page.token) headers.authorization = `Bearer ${page.token}`;
    const response = await fetch(`/api/rollouts/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}/${control}`, { method: "POST", headers, body: "{}" });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401 && page.tokenRequired) {
      const token = prompt("This dashboard needs its token (--http-token) for controls:");
      if (!token) return notice(`${control} not sent: no token`, true);
      page.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      continue;
    }
    if (!response.ok) return notice(`${control} failed: ${body.error?.message ?? `HTTP ${response.status}`}`, true);
    notice(`${control} recorded for rollout ${body.id} (phase ${body.phase})`);
    return void refreshRollouts();
  }
}

byId("rollouts").addEventListener("click", (click) => {
  const button = click.target.closest("button[data-control]");
  if (!button || button.disabled) return;
  button.disabled = true;
  sendControl(button.dataset.cluster, button.dataset.id, button.dataset.control).catch((err) => notice(err.message, true));
});

getJson("/api/config")
  .then((config) => (page.tokenRequired = config.tokenRequired))
  .catch((err) => notice(err.message, true));
void refreshRollouts();
void refreshFleet();
listen();
setInterval(() => {
  void refreshRollouts();
  void refreshFleet();
}, POLL_MS);
