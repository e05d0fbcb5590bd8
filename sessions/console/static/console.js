// Attune therapist console: one page per session, fed by server-sent events.
// Everything is drawn from the frames the server sends (one per tick); every control
// posts one command line that the server sends through the session's command channel.
"use strict";
(function () {
  const token = document.querySelector('meta[name="attune-token"]').content;
  const $ = (id) => document.getElementById(id);
  const TRACE_N = 240;
  const A = (window.attune = {
    hello: null, last: null, latencies: [], received: 0, gaps: 0, lastSeq: 0,
    replies: [], connected: false, connects: 0, levels: [],
  });
  let hello = null, pending = null, history = 0, trail = [], traces = {}, waiting = [];
  const alarms = new Map();

  const fmt = (x, d = 2) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));
  const clock = (s) => {
    if (s === null || s === undefined) return "-";
    s = Math.max(0, Math.round(s));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  function setVal(el, value, text) {
    el.dataset.value = value === null || value === undefined ? "" : String(value);
    el.textContent = text;
  }

  // ------------------------------------------------------------------ commands
  async function send(command, replyEl) {
    const out = replyEl || $("reply");
    out.className = "reply";
    out.textContent = `sending: ${command}`;
    let reply;
    try {
      const r = await fetch("/api/command", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Attune-Token": token },
        body: JSON.stringify({ command }),
      });
      reply = await r.json();
    } catch (e) {
      reply = { ok: false, error: `no connection: ${e}` };
    }
    A.replies.push({ command, ...reply });
    if (A.replies.length > 200) A.replies.shift();
    out.className = "reply " + (reply.ok ? "ok" : "err");
    out.textContent = reply.ok ? `done: ${reply.command}` : `refused: ${reply.error}`;
    return reply;
  }
  document.querySelectorAll("button[data-cmd]").forEach((b) =>
    b.addEventListener("click", () => send(b.dataset.cmd)));
  $("estop").addEventListener("click", () => send("estop"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); send("estop"); }
  });
  $("goal-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send(`goal ${Number($("goal-a").value)} ${Number($("goal-v").value)}`);
  });
  $("note-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("note").value.trim();
    if (text) send(`annotate ${text}`).then((r) => { if (r.ok) $("note").value = ""; });
  });
  for (const id of ["sam-a", "sam-v"]) {
    for (let k = 1; k <= 9; k++) $(id).add(new Option(String(k), String(k), k === 5, k === 5));
  }
  $("sam-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send(`sam ${$("sam-a").value} ${$("sam-v").value} during`);
  });
  $("levelcheck").addEventListener("click", async () => {
    const out = $("levelcheck-result");
    out.className = "reply";
    out.textContent = "playing the calm clip and measuring...";
    $("levelcheck").disabled = true;
    try {
      const r = await fetch("/api/levelcheck", { method: "POST", headers: { "X-Attune-Token": token } });
      const j = await r.json();
      if (!j.ok) { out.className = "reply err"; out.textContent = j.error; return; }
      out.className = "reply ok";
      out.dataset.rms = j.rms_dbfs;
      const where = j.played ? `played on ${j.device}` : "no audio.device configured: rendered only";
      out.textContent = `measured ${fmt(j.rms_dbfs, 1)} dBFS RMS, peak ${fmt(j.peak_dbfs, 1)} dBFS, ` +
        `${fmt(j.lufs, 1)} LUFS (set ${fmt(j.set_loudness_db, 1)} LUFS); ${where}`;
    } finally {
      $("levelcheck").disabled = false;
    }
  });

  // ------------------------------------------------------------------ static layout
  function setup(h) {
    hello = A.hello = h;
    history = h.history || 0;
    trail = [];
    traces = {};
    $("session").textContent = `${h.name} / ${h.participant} (${h.session})`;
    $("mode").textContent = h.mode;
    status(h);
    const tb = $("params").querySelector("tbody");
    tb.textContent = "";
    for (const n of h.params) {
      const [lo, hi] = h.limits[n];
      const step = n === "mode" || n === "tempo_bpm" ? 1 : n === "loudness_db" || n === "register_st" ? 0.5 : 0.01;
      const tr = document.createElement("tr");
      tr.id = `p-${n}`;
      tr.innerHTML =
        `<td>${n}</td><td class="v" id="v-${n}" data-value="">-</td>` +
        `<td><div class="bar"><i></i><b hidden></b></div><span class="lim">${lo} .. ${hi}</span></td>` +
        `<td class="why" id="why-${n}">-</td>` +
        `<td class="ctl"><input type="range" id="pin-${n}" min="${lo}" max="${hi}" step="${step}" value="${lo}">` +
        ` <output id="pinv-${n}">${lo}</output> <button data-pin="${n}">Pin</button>` +
        ` <button data-unpin="${n}">Release</button></td>`;
      tb.appendChild(tr);
      const slider = tr.querySelector("input");
      slider.addEventListener("input", () => {
        slider.dataset.touched = "1";  // the therapist's choice: no longer follows the music
        $(`pinv-${n}`).textContent = slider.value;
      });
      tr.querySelector("[data-pin]").addEventListener("click", () => {
        send(`pin ${n} ${slider.value}`);
        slider.dataset.touched = "";
      });
      tr.querySelector("[data-unpin]").addEventListener("click", () => send(`unpin ${n}`));
    }
    const tw = $("traces");
    tw.textContent = "";
    for (const [key, label] of Object.entries(h.traces)) {
      traces[key] = [];
      const d = document.createElement("div");
      d.className = "trace";
      d.innerHTML = `<div class="lab"><span>${label}</span><span class="val" id="tv-${key}" data-value="">-</span></div>` +
        `<canvas id="tc-${key}" width="420" height="46"></canvas>`;
      tw.appendChild(d);
    }
    const ss = $("sensors");
    ss.textContent = "";
    for (const s of h.sensors) {
      const d = document.createElement("div");
      d.className = "sensor";
      d.dataset.name = s.name;
      d.innerHTML = `<span class="light"></span><b>${s.name}</b> <span>${s.kind}</span>` +
        `<span class="age">last sample -</span><span class="drops">drops 0</span>` +
        `<span class="rec">reconnects 0</span><span class="lat">latency -</span>`;
      ss.appendChild(d);
    }
    $("goal-a").value = h.goal[0];
    $("goal-v").value = h.goal[1];
    $("levelcheck").hidden = !h.level_check;
  }

  function status(h) {
    $("status").textContent = h.status;
    document.body.classList.toggle("readonly", !h.controllable);
    $("estop").disabled = !h.controllable;
    if (h.status && h.status !== "running") {
      $("report").innerHTML = h.report
        ? `<a id="report-link" href="/report?token=${token}" target="_blank" rel="noreferrer">Open the session report</a>`
        : `Session ${h.status}. Report: <code>attune console ${h.session}</code> once it is written.`;
    }
  }

  // ------------------------------------------------------------------ per tick
  function onTick(f) {
    A.received++;
    if (A.lastSeq && f.seq > A.lastSeq + 1) A.gaps += f.seq - A.lastSeq - 1;
    A.lastSeq = f.seq;
    A.last = f;
    $("phase").textContent = f.phase;
    setVal($("elapsed"), f.t, clock(f.t));
    $("elapsed").dataset.t = f.t;
    $("remaining").textContent = clock(f.remaining_s);
    setVal($("arousal"), f.arousal, fmt(f.arousal, 3));
    setVal($("valence"), f.valence, fmt(f.valence, 3));
    $("arousal").dataset.t = f.t;
    $("arousal-axis").textContent = `${hello.arousal_axis}, ${f.arousal_measured ? "measured" : "not measured (low confidence)"}`;
    $("valence-axis").textContent = `${hello.valence_axis}, ${f.valence_measured ? "measured" : "not measured (follows the goal)"}`;
    setVal($("target"), f.target[0], f.target[0] === null ? "none (baseline)" : `${fmt(f.target[0], 3)}, ${fmt(f.target[1], 3)}`);
    setVal($("confidence"), f.confidence, `${fmt(f.confidence, 2)} (valence ${fmt(f.valence_confidence, 2)})`);
    $("hold").textContent = [f.hold && "HOLD", f.fallback && "FALLBACK", f.paused && "PAUSED",
      f.stopped && "EMERGENCY STOP", f.ending && "ENDING"].filter(Boolean).join(" ");
    for (const n of hello.params) {
      const v = f.params[n];
      const el = $(`v-${n}`);
      if (!el) continue;
      setVal(el, v, n === "mode" ? String(v) : fmt(v, n === "tempo_bpm" ? 1 : 2));
      const [lo, hi] = hello.limits[n];
      const row = $(`p-${n}`);
      row.querySelector(".bar i").style.left = `${(100 * (v - lo)) / (hi - lo || 1)}%`;
      const pin = f.pins[n];
      const b = row.querySelector(".bar b");
      b.hidden = pin === undefined;
      if (pin !== undefined) b.style.left = `${(100 * (pin - lo)) / (hi - lo || 1)}%`;
      const slider = $(`pin-${n}`);
      if (!slider.dataset.touched && v !== null) {  // the slider starts where the music is
        slider.value = pin !== undefined ? pin : v;
        $(`pinv-${n}`).textContent = slider.value;
      }
      const r = f.reasons[n];
      const why = $(`why-${n}`);
      why.textContent = r ? `${r.reason} at ${clock(r.t)}` : "-";
      why.className = "why" + (r ? ` reason-${r.reason.split(" ")[0]}` : "");
      why.dataset.reason = r ? r.reason : "";
    }
    for (const [k, v] of Object.entries(f.traces)) {
      const arr = traces[k];
      if (!arr) continue;
      arr.push(v);
      if (arr.length > TRACE_N) arr.shift();
      const el = $(`tv-${k}`);
      el.className = v === null ? "val nodata" : "val";
      setVal(el, v, v === null ? "not enough data yet" : fmt(v, 2));
    }
    for (const s of f.sensors) {
      const d = document.querySelector(`.sensor[data-name="${CSS.escape(s.name)}"]`);
      if (!d) continue;
      const q = s.quality;
      d.querySelector(".light").className = "light " + (q === null ? "" : q >= 0.8 ? "good" : q >= 0.5 ? "fair" : "poor");
      d.querySelector(".light").title = q === null ? "no data" : `quality ${fmt(q, 2)}`;
      d.querySelector(".age").textContent = s.age_s === null ? "no sample yet" : `last sample ${fmt(s.age_s, 1)} s ago`;
      d.querySelector(".drops").textContent = `drops ${s.drops}`;
      d.querySelector(".rec").textContent = `reconnects ${s.reconnects}`;
      d.querySelector(".lat").textContent = `latency ${fmt(s.latency_ms, 0)} ms`;
    }
    for (const a of f.alarms) alarms.set(a.code, a);
    for (const c of f.acked) if (alarms.has(c)) alarms.get(c).acked = true;
    if (f.alarms.length || f.acked.length) drawAlarms();
    const ev = $("events");
    for (const text of f.events) {
      const li = document.createElement("li");
      li.textContent = `${clock(f.t)}  ${text}`;
      ev.prepend(li);
    }
    while (ev.children.length > 60) ev.lastChild.remove();
    if (f.level) {
      A.levels.push([f.t, f.level.rms_dbfs]);
      if (A.levels.length > 3000) A.levels.shift();
      const extra = f.level.lufs === undefined || f.level.lufs === null ? "" : `, ${fmt(f.level.lufs, 1)} LUFS`;
      setVal($("level"), f.level.rms_dbfs, `${fmt(f.level.rms_dbfs, 1)} dBFS RMS${extra}`);
      $("level-src").textContent = `measured on the ${f.level.source}; set: ${fmt(f.params.loudness_db, 1)} LUFS at fade ${fmt(f.params.fade, 2)}`;
    }
    $("levelcheck").disabled = f.phase !== "baseline";
    $("levelcheck").title = f.phase === "baseline" ? "" : "offered before the music starts (baseline)";
    trail.push([f.arousal, f.valence]);
    if (trail.length > 40) trail.shift();
    if (history > 0) history--;  // frames from before this connection: not timed
    else waiting.push(f.wall_ms);
    if (!pending) requestAnimationFrame(draw);
    pending = f;
  }

  function drawAlarms() {
    const box = $("alarms");
    box.textContent = "";
    for (const a of alarms.values()) {
      const d = document.createElement("div");
      d.className = `alarm ${a.priority}` + (a.acked ? " acked" : "");
      d.dataset.code = a.code;
      d.innerHTML = `<b>${a.priority.toUpperCase()}</b><span>${clock(a.t)} ${a.code}</span><span class="msg"></span>`;
      d.querySelector(".msg").textContent = a.message;
      const b = document.createElement("button");
      b.textContent = a.acked ? "acknowledged" : "Acknowledge";
      b.disabled = a.acked;
      b.addEventListener("click", () => send(`ack ${a.code}`));
      d.appendChild(b);
      box.appendChild(d);
    }
  }

  // ------------------------------------------------------------------ drawing
  function draw() {
    const f = pending;
    pending = null;
    if (!f) return;
    const now = Date.now();  // the frame's values are in the page and about to be painted
    for (const w of waiting) A.latencies.push(now - w);
    waiting = [];
    while (A.latencies.length > 20000) A.latencies.shift();
    drawPlane(f);
    for (const k of Object.keys(traces)) drawTrace(k);
  }

  function drawPlane(f) {
    const c = $("av"), g = c.getContext("2d"), W = c.width, H = c.height;
    const X = (v) => ((v + 1) / 2) * (W - 20) + 10, Y = (a) => H - 10 - ((a + 1) / 2) * (H - 20);
    g.clearRect(0, 0, W, H);
    g.strokeStyle = "#d8dce3"; g.lineWidth = 1;
    g.strokeRect(10, 10, W - 20, H - 20);
    g.beginPath(); g.moveTo(X(0), Y(-1)); g.lineTo(X(0), Y(1)); g.moveTo(X(-1), Y(0)); g.lineTo(X(1), Y(0)); g.stroke();
    g.fillStyle = "#6b7380"; g.font = "11px sans-serif";
    g.fillText("arousal +", X(0) + 4, 22); g.fillText("valence +", W - 62, Y(0) - 4);
    const start = f.iso_start || (f.arousal === null ? null : [f.arousal, f.valence]);
    if (start) {
      g.setLineDash([5, 4]); g.strokeStyle = "#e07b00"; g.lineWidth = 2;
      g.beginPath(); g.moveTo(X(start[1]), Y(start[0])); g.lineTo(X(f.goal[1]), Y(f.goal[0])); g.stroke();
      g.setLineDash([]);
    }
    g.fillStyle = "#2e9d57"; g.beginPath(); g.arc(X(f.goal[1]), Y(f.goal[0]), 6, 0, 7); g.fill();
    g.strokeStyle = "rgba(31,111,209,.35)"; g.lineWidth = 1.5; g.beginPath();
    trail.forEach(([a, v], i) => { if (a === null) return; i ? g.lineTo(X(v), Y(a)) : g.moveTo(X(v), Y(a)); });
    g.stroke();
    if (f.target[0] !== null) {
      g.fillStyle = "#e07b00"; g.beginPath(); g.arc(X(f.target[1]), Y(f.target[0]), 6, 0, 7); g.fill();
    }
    if (f.arousal !== null) {
      const r = 6 + 30 * (1 - f.confidence);
      g.fillStyle = "rgba(31,111,209,.15)"; g.beginPath(); g.arc(X(f.valence), Y(f.arousal), r, 0, 7); g.fill();
      g.fillStyle = "#1f6fd1"; g.beginPath(); g.arc(X(f.valence), Y(f.arousal), 6, 0, 7); g.fill();
    }
  }

  function drawTrace(k) {
    const c = $(`tc-${k}`), g = c.getContext("2d"), W = c.width, H = c.height, arr = traces[k];
    g.clearRect(0, 0, W, H);
    const vals = arr.filter((v) => v !== null);
    if (!vals.length) {
      g.fillStyle = "#6b7380"; g.font = "italic 12px sans-serif";
      g.fillText("not enough data yet", 8, H / 2 + 4);
      return;
    }
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (hi - lo < 1e-6) { lo -= 1; hi += 1; }
    g.strokeStyle = "#1f6fd1"; g.lineWidth = 1.5; g.beginPath();
    let pen = false;
    arr.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      const x = (i / (Math.max(arr.length, 60) - 1)) * W, y = H - 3 - ((v - lo) / (hi - lo)) * (H - 6);
      pen ? g.lineTo(x, y) : g.moveTo(x, y);
      pen = true;
    });
    g.stroke();
  }

  // ------------------------------------------------------------------ connection
  function connect() {
    const es = new EventSource(`/events?token=${encodeURIComponent(token)}`);
    es.addEventListener("hello", (e) => {
      A.connected = true; A.connects++;
      $("conn").textContent = "live"; $("conn").className = "tag on";
      setup(JSON.parse(e.data));
    });
    es.addEventListener("status", (e) => {
      const s = JSON.parse(e.data);
      Object.assign(hello, s);
      status(hello);
    });
    es.onmessage = (e) => onTick(JSON.parse(e.data));
    es.onerror = () => {
      A.connected = false;
      $("conn").textContent = hello && hello.status !== "running" ? "closed" : "reconnecting";
      $("conn").className = "tag off";
    };
  }
  connect();
})();
