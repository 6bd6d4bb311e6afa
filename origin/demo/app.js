// The demo page's probe: fetch a URL, show its status and headers, and keep
// the origin's counters on screen.
"use strict";

const out = document.getElementById("out");
const stats = document.getElementById("stats");

async function showStats() {
  try {
    const res = await fetch("/_origin/stats", { cache: "no-store" });
    const body = await res.json();
    stats.textContent = JSON.stringify(body, null, 2);
  } catch (err) {
    stats.textContent = "could not read /_origin/stats: " + err;
  }
}

document.getElementById("probe").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const url = document.getElementById("url").value;
  try {
    const res = await fetch(url, { cache: "no-store" });
    const body = await res.arrayBuffer();
    const lines = [res.status + " " + res.statusText];
    res.headers.forEach((value, name) => lines.push(name + ": " + value));
    lines.push("", body.byteLength + " body bytes");
    out.textContent = lines.join("\n");
  } catch (err) {
    out.textContent = "fetch failed: " + err;
  }
  showStats();
});

document.getElementById("reset").addEventListener("click", async () => {
  await fetch("/_origin/stats/reset", { method: "POST" });
  showStats();
});

showStats();
