// nanocell monitor: polls the JSON endpoints and draws on canvases (no external library: offline labs).
"use strict";
let chosen = null;      // the run shown on the right
let followLatest = true;

async function get(path) {
  const r = await fetch(path, {cache: "no-store"});
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fmt(v) { return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : String(+v.toPrecision(5)); }

function plot(canvas, series, opts) {
  // series: [{x: [...], y: [...], color}], drawn as lines (or dots with opts.dots)
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, m = {l: 58, r: 8, t: 8, b: 22};
  ctx.clearRect(0, 0, W, H);
  let xs = [], ys = [];
  for (const s of series) for (let i = 0; i < s.x.length; i++) {
    if (s.x[i] !== null && s.y[i] !== null) { xs.push(s.x[i]); ys.push(s.y[i]); }
  }
  ctx.fillStyle = "#8a93a0"; ctx.font = "11px sans-serif";
  if (!xs.length) { ctx.fillText("no data yet", W / 2 - 30, H / 2); canvas.dataset.points = "0"; return; }
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) { x1 += 1; x0 -= 1; } if (y1 === y0) { y1 += Math.abs(y1) * 0.1 || 1; y0 -= Math.abs(y0) * 0.1 || 1; }
  const X = v => m.l + (v - x0) / (x1 - x0) * (W - m.l - m.r), Y = v => H - m.b - (v - y0) / (y1 - y0) * (H - m.t - m.b);
  ctx.strokeStyle = "#2a3038"; ctx.strokeRect(m.l, m.t, W - m.l - m.r, H - m.t - m.b);
  ctx.fillText(fmt(y1), 4, m.t + 10); ctx.fillText(fmt(y0), 4, H - m.b); ctx.fillText(fmt(x0), m.l, H - 6);
  ctx.fillText(fmt(x1), W - m.r - 40, H - 6);
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.beginPath(); let pen = false;
    for (let i = 0; i < s.x.length; i++) {
      if (s.x[i] === null || s.y[i] === null) { pen = false; continue; }
      if (opts && opts.dots) { ctx.fillRect(X(s.x[i]) - 1, Y(s.y[i]) - 1, 3, 3); continue; }
      if (pen) ctx.lineTo(X(s.x[i]), Y(s.y[i])); else ctx.moveTo(X(s.x[i]), Y(s.y[i]));
      pen = true;
    }
    ctx.stroke();
  }
  canvas.dataset.points = String(xs.length);
}

function image(canvas, rows) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const vals = rows.flat().filter(v => v !== null);
  if (!vals.length) { ctx.fillStyle = "#8a93a0"; ctx.fillText("no map yet", W / 2 - 30, H / 2); canvas.dataset.points = "0"; return; }
  const lo = Math.min(...vals), hi = Math.max(...vals), ny = rows.length, nx = rows[0].length;
  const pw = W / nx, ph = H / ny;
  for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) {
    const v = rows[r][c];
    if (v === null) continue;
    const f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    ctx.fillStyle = `rgb(${Math.round(40 + 215 * f)},${Math.round(60 + 150 * f)},${Math.round(120 - 80 * f)})`;
    ctx.fillRect(c * pw, (ny - 1 - r) * ph, Math.ceil(pw), Math.ceil(ph));
  }
  canvas.dataset.points = String(vals.length);
}

async function refreshLists() {
  const runs = await get("/api/runs");
  const body = document.querySelector("#runs tbody");
  body.textContent = "";
  for (const r of runs) {
    const tr = document.createElement("tr");
    tr.className = "run" + (r.id === chosen ? " chosen" : "");
    cell(tr, r.id); cell(tr, r.status, "s-" + r.status); cell(tr, r.device); cell(tr, r.protocol_name);
    cell(tr, (r.started || "").replace("T", " ").slice(0, 19));
    tr.onclick = () => { chosen = r.id; followLatest = false; refreshRun(); };
    body.appendChild(tr);
  }
  if (followLatest && runs.length) {
    const live = runs.find(r => ["running", "paused", "stale"].includes(r.status));
    chosen = (live || runs[0]).id;
  }
  const queue = await get("/api/queue");
  const qb = document.querySelector("#queue tbody");
  qb.textContent = "";
  for (const e of queue) {
    const tr = document.createElement("tr");
    cell(tr, e.id); cell(tr, e.state, "s-" + e.state); cell(tr, e.protocol); cell(tr, e.device); cell(tr, e.run_id);
    qb.appendChild(tr);
  }
}

async function refreshRun() {
  if (chosen === null) return;
  const [run, cyc, iv, map, events] = await Promise.all([
    get(`/api/runs/${chosen}`), get(`/api/runs/${chosen}/cycling`), get(`/api/runs/${chosen}/iv`),
    get(`/api/runs/${chosen}/map`), get(`/api/runs/${chosen}/events`)]);
  document.getElementById("title").textContent =
    `run ${run.id}: ${run.protocol_name} on ${run.device_name || run.device || "?"} — ${run.status}`;
  const p = run.progress;
  document.getElementById("progress").textContent = p ? `${p.step}: ${(100 * p.fraction).toFixed(1)} %` +
    (p.eta_s ? `, about ${Math.round(p.eta_s / 60)} min left` : "") : (run.reason || "");
  const dl = document.getElementById("downloads");
  dl.textContent = "";
  if (!["running", "paused", "stale"].includes(run.status)) {
    for (const [href, text] of [[`/api/runs/${run.id}/report.png`, "report (PNG)"], [`/api/runs/${run.id}/export.h5`, "export (HDF5)"]]) {
      const a = document.createElement("a"); a.href = href; a.textContent = text; dl.appendChild(a);
    }
  }
  plot(document.getElementById("plot-E"), [{x: cyc.t_s, y: cyc.E_V, color: "#6fb0ff"}]);
  plot(document.getElementById("plot-I"), [{x: cyc.t_s, y: cyc.I_A, color: "#ffb060"}]);
  const colors = ["#7fe07f", "#e07fe0", "#e0e07f"];
  plot(document.getElementById("plot-iv"), iv.curves.map((c, i) => ({x: c.V_V, y: c.I_A, color: colors[i % 3]})));
  document.getElementById("iv-caption").textContent = "latest I-V" + (iv.label ? ` (${iv.label})` : "") + ": I (A) against V (V)";
  image(document.getElementById("plot-map"), map.intensity);
  if (map.grid) document.getElementById("map-caption").textContent = `latest map ${map.grid.label || ""} (${map.grid.nx} x ${map.grid.ny}, total counts)`;
  const ol = document.getElementById("events");
  ol.textContent = "";
  for (const e of events.slice(-200)) {
    const li = document.createElement("li");
    li.className = "l-" + e.level;
    li.textContent = `${e.time.replace("T", " ").slice(0, 19)} ${e.level}: ${e.message}`;
    ol.appendChild(li);
  }
}

async function tick() {
  try {
    await refreshLists();
    await refreshRun();
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.ready = "1";
  } catch (err) {
    document.getElementById("updated").textContent = "cannot read the database: " + err.message;
  }
}

tick();
setInterval(tick, 2000);
