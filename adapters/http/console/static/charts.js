// Hand-written SVG charts: stacked or grouped bars, lines, a heat map. No library, no network, a few KB.
// Every mark carries its figure in data-* attributes and a tooltip (data-tip, and <title> for readers).
const NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 280;
const M = { top: 16, right: 16, bottom: 46, left: 72 };

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, content, attrs = {}) {
  const node = el("text", { x, y, ...attrs }, parent);
  node.textContent = content;
  return node;
}

function tip(node, content) {
  node.dataset.tip = content;
  el("title", {}, node).textContent = content;
}

// Ticks at 1, 2 or 5 times a power of ten, from 0 up to at least `top`.
export function niceTicks(top, wanted = 5, integer = false) {
  if (!(top > 0)) return [0, 1];
  const rough = top / wanted;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  if (integer) step = Math.max(1, Math.round(step));
  const ticks = [];
  for (let v = 0; v <= top + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < top) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function frame(container, { title, yLabel, xLabel }) {
  container.replaceChildren();
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  container.appendChild(svg);
  text(svg, 14, M.top + (H - M.top - M.bottom) / 2, yLabel, {
    transform: `rotate(-90 14 ${M.top + (H - M.top - M.bottom) / 2})`, "text-anchor": "middle", class: "unit y-unit",
  });
  text(svg, M.left + (W - M.left - M.right) / 2, H - 6, xLabel, { "text-anchor": "middle", class: "unit x-unit" });
  return svg;
}

function yAxis(svg, ticks, format) {
  const top = ticks[ticks.length - 1] || 1;
  const inner = H - M.top - M.bottom;
  const y = (v) => M.top + inner - (inner * v) / top;
  const grid = el("g", { class: "grid" }, svg);
  const axis = el("g", { class: "axis y-axis" }, svg);
  el("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }, axis);
  for (const v of ticks) {
    el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, grid);
    el("line", { x1: M.left - 4, x2: M.left, y1: y(v), y2: y(v) }, axis);
    text(axis, M.left - 6, y(v) + 4, format(v), { "text-anchor": "end", class: "tick" });
  }
  return y;
}

function xAxis(svg, labels, position, wanted = 5) {
  const axis = el("g", { class: "axis x-axis" }, svg);
  el("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }, axis);
  const every = labels.length <= 8 ? 1 : Math.max(1, Math.ceil(labels.length / wanted));
  const half = 36; // about half a date label's width at 11px
  labels.forEach((label, i) => {
    if (i % every) return;
    const x = position(i);
    let anchor = "middle";
    if (labels.length > 1 && x - half < M.left) anchor = "start";
    if (labels.length > 1 && x + half > W - M.right) anchor = "end";
    el("line", { x1: x, x2: x, y1: H - M.bottom, y2: H - M.bottom + 4 }, axis);
    text(axis, x, H - M.bottom + 16, label, { "text-anchor": anchor, class: "tick" });
  });
}

function legend(container, series) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const svg = el("svg", { width: 10, height: 10 });
    el("rect", { width: 10, height: 10, fill: s.color }, svg);
    item.append(svg, ` ${s.label}`);
    box.appendChild(item);
  }
  container.appendChild(box);
}

// Bars per category (a date), the series stacked or side by side.
export function barChart(container, { title, categories, series, stacked, yLabel, xLabel, yFormat, valueFormat, integer = true }) {
  const svg = frame(container, { title, yLabel, xLabel });
  const totals = categories.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const top = stacked ? Math.max(0, ...totals) : Math.max(0, ...series.flatMap((s) => s.values));
  const y = yAxis(svg, niceTicks(top, 5, integer), yFormat);
  const inner = W - M.left - M.right;
  const band = inner / Math.max(categories.length, 1);
  const x = (i) => M.left + band * i + band / 2;
  const gap = band > 6 ? 1 : 0;
  categories.forEach((category, i) => {
    let base = 0;
    series.forEach((s, k) => {
      const value = s.values[i];
      const width = stacked ? band - gap : (band - gap) / series.length;
      const left = M.left + band * i + (stacked ? 0 : k * width);
      const bottom = stacked ? base : 0;
      const rect = el("rect", {
        class: "bar", x: left, width: Math.max(width, 0.5), y: y(bottom + value), height: Math.max(0, y(bottom) - y(bottom + value)),
        fill: s.color, "data-series": s.key, "data-x": category, "data-value": value,
      }, svg);
      tip(rect, `${category}\n${s.label}: ${valueFormat(value)}${stacked ? `\nΣ ${valueFormat(totals[i])}` : ""}`);
      if (stacked) base += value;
    });
  });
  xAxis(svg, categories, x);
  legend(container, series);
  return svg;
}

// Lines over numeric or categorical x (categories: one point per index).
export function lineChart(container, { title, xs, series, yLabel, xLabel, yFormat, valueFormat, xFormat = String, yTop }) {
  const svg = frame(container, { title, yLabel, xLabel });
  const top = yTop ?? Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const y = yAxis(svg, niceTicks(top), yFormat);
  const inner = W - M.left - M.right;
  const x = (i) => M.left + (xs.length > 1 ? (inner * i) / (xs.length - 1) : inner / 2);
  const index = new Map(xs.map((value, i) => [String(value), i]));
  for (const s of series) {
    const at = s.points.map(([px, py]) => [x(index.get(String(px))), y(py), px, py]);
    el("polyline", { points: at.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" "), fill: "none", stroke: s.color, "stroke-width": 2, "data-series": s.key }, svg);
    for (const [a, b, px, py] of at) {
      const dot = el("circle", { cx: a, cy: b, r: at.length > 60 ? 1.5 : 3, fill: s.color, class: "point", "data-series": s.key, "data-x": px, "data-value": py }, svg);
      tip(dot, `${xFormat(px)}\n${s.label}: ${valueFormat(py)}`);
    }
  }
  xAxis(svg, xs.map(xFormat), x);
  legend(container, series);
  return svg;
}

// A matrix of shares: rows (from) by columns (to), shaded by the share, labelled with share and count.
export function heatMap(container, { title, rows, cols, rowNames, colNames, cell, corner, rateFormat }) {
  container.replaceChildren();
  const cw = 80;
  const ch = 34;
  const left = 90;
  const topPad = 30;
  const width = left + cw * cols.length + 8;
  const height = topPad + ch * rows.length + 8;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart heatmap", role: "img", "aria-label": title });
  container.appendChild(svg);
  text(svg, 4, 20, corner, { class: "unit" });
  cols.forEach((col, j) => text(svg, left + cw * j + cw / 2, 20, colNames(col), { "text-anchor": "middle", class: "tick col" }));
  rows.forEach((row, i) => {
    text(svg, left - 8, topPad + ch * i + ch / 2 + 4, rowNames(row), { "text-anchor": "end", class: "tick row" });
    cols.forEach((col, j) => {
      const found = cell(row, col);
      const rate = found ? found.rate : null;
      const shade = rate === null || rate === undefined ? "#f1f2f5" : `hsl(215, 70%, ${Math.round(95 - 50 * Math.min(1, rate))}%)`;
      const g = el("g", { class: "cell-group" }, svg);
      const rect = el("rect", {
        class: "cell", x: left + cw * j, y: topPad + ch * i, width: cw - 2, height: ch - 2, fill: found ? shade : "#fafbfc",
        "data-from": row, "data-to": col, "data-accounts": found ? found.accounts : 0,
        "data-rate": rate === null || rate === undefined ? "" : rate,
      }, g);
      if (found) {
        const label = rate === null || rate === undefined ? String(found.accounts) : rateFormat(rate);
        const ink = rate !== null && rate !== undefined && rate > 0.55 ? "light" : "dark";
        text(g, left + cw * j + cw / 2 - 1, topPad + ch * i + 14, label, { "text-anchor": "middle", class: `rate ${ink}` });
        text(g, left + cw * j + cw / 2 - 1, topPad + ch * i + 27, `(${found.accounts}/${found.from_accounts})`, { "text-anchor": "middle", class: `count ${ink}` });
        tip(rect, `${rowNames(row)} → ${colNames(col)}\n${rate === null || rate === undefined ? "" : `${rateFormat(rate)} · `}${found.accounts} / ${found.from_accounts}`);
      }
    });
  });
  return svg;
}

// One tooltip for the page: shown over any mark with data-tip.
export function installTooltip(box) {
  document.addEventListener("mouseover", (event) => {
    const mark = event.target.closest && event.target.closest("[data-tip]");
    if (!mark) { box.hidden = true; return; }
    box.textContent = mark.dataset.tip;
    box.hidden = false;
  });
  document.addEventListener("mousemove", (event) => {
    box.style.left = `${event.clientX + 12}px`;
    box.style.top = `${event.clientY + 12}px`;
  });
}
