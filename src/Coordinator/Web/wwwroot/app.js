// The dashboard: renders the status the page came with, then every update the server pushes on /events (Server-Sent Events).
"use strict";

const $ = id => document.getElementById(id);
const number = (v, digits) => v == null || typeof v !== "number" ? "–" : v.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function lineChart(canvas, label, color, xTitle, xStep) {
  return new Chart(canvas, {
    type: "line",
    data: { datasets: [{ label, data: [], borderColor: color, backgroundColor: color, pointRadius: 2, borderWidth: 2 }] },
    options: {
      animation: false, maintainAspectRatio: false, parsing: false,
      scales: { x: { type: "linear", title: { display: true, text: xTitle }, ticks: { stepSize: xStep, precision: 0 } },
                y: { title: { display: true, text: "nats/image" } } },
      plugins: { legend: { display: false } },
    },
  });
}

const trainChart = lineChart($("train-chart"), "train loss", "#3b6fb6", "step", undefined);
const testChart = lineChart($("test-chart"), "test loss", "#c0504d", "epoch", 1);

function duration(seconds) {
  if (seconds == null) return "–";
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function bytes(n) {
  if (!n) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function cell(row, text) { row.insertCell().textContent = text; }

let picturesEpoch = null;

function render(s) {
  $("phase").textContent = s.phase;
  $("phase").className = "phase " + s.phase.replaceAll(" ", "-");
  $("epoch").textContent = s.epoch ? `${s.epoch} / ${s.epochs}` : "–";
  $("step").textContent = s.globalStep ? `${s.globalStep}` : "–";
  $("step").title = `step ${s.stepInEpoch} of ${s.stepsPerEpoch} in this epoch`;
  $("loss").textContent = number(s.loss, 2);
  $("rate").textContent = number(s.samplesPerSecond, 0);
  $("workers").textContent = s.workers;
  $("left").textContent = duration(s.remainingSeconds);
  const done = s.runSteps ? Math.min(1, s.runStepsDone / s.runSteps) : 0;
  $("bar").style.width = `${(done * 100).toFixed(1)}%`;
  $("percent").textContent = `${(done * 100).toFixed(0)}%  (${s.runStepsDone} of ${s.runSteps} steps)`;

  trainChart.data.datasets[0].data = s.trainLoss.map(p => ({ x: p.step, y: p.loss }));
  trainChart.update("none");
  testChart.data.datasets[0].data = s.testLoss.map(p => ({ x: p.epoch, y: p.testLoss }));
  testChart.update("none");

  const body = $("nodes").tBodies[0];
  body.replaceChildren();
  for (const n of s.nodes) {
    const row = body.insertRow();
    cell(row, n.node); cell(row, n.host); cell(row, n.workers.join(", ")); cell(row, n.state);
    cell(row, n.shards.toLocaleString("en")); cell(row, bytes(n.bytesIn + n.bytesOut));
    cell(row, n.lastSeenSecondsAgo == null ? "–" : `${n.lastSeenSecondsAgo.toFixed(1)} s ago`);
  }

  const list = $("events");
  list.replaceChildren();
  for (const e of [...s.events].reverse()) {
    const item = document.createElement("li");
    item.className = e.kind;
    const time = document.createElement("time");
    time.textContent = new Date(e.at).toLocaleTimeString("en-GB");
    item.append(time, e.text);
    list.append(item);
  }

  if (s.pictures != null && s.pictures !== picturesEpoch) {
    picturesEpoch = s.pictures;
    $("samples").src = `/pictures/samples.png?epoch=${s.pictures}`;
    $("reconstructions").src = `/pictures/reconstructions.png?epoch=${s.pictures}`;
    $("pictures-epoch").textContent = `after epoch ${s.pictures}`;
  }
}

const initial = JSON.parse($("initial-status").textContent);
if (initial) render(initial);
const updates = new EventSource("/events");
updates.addEventListener("status", e => { $("connection").textContent = ""; render(JSON.parse(e.data)); });
updates.onerror = () => { $("connection").textContent = "disconnected: the run may have ended"; };
