// Portfolio: delinquency by bucket (stacked), overdue balance, locks per day, the brake,
// roll rates over an interval (30 days by default) as a heat map with the cure rate, vintage curves.
import { get } from "./api.js";
import { barChart, heatMap, lineChart } from "./charts.js";
import { addAmounts, count, percent, yuan, yuanShort } from "./format.js";
import { t } from "./i18n.js";

export const BUCKETS = ["current", "1-30", "31-60", "61-90", "91-180", "180+"];
export const COLOURS = { current: "#4c9f70", "1-30": "#f2c14e", "31-60": "#f78154", "61-90": "#d1495b", "91-180": "#8e3b46", "180+": "#3d1e2b" };
const VINTAGE_COLOURS = ["#2d6cdf", "#d1495b", "#4c9f70", "#f2a541", "#7b4fb5", "#1b998b", "#8e3b46", "#5d6472"];
const ZONE = "Asia/Shanghai";

function node(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  element.append(...children);
  return element;
}

function panel(id, title) {
  const body = node("div", { class: "chart-body" });
  return [node("div", { class: "panel", id }, node("h2", {}, title), body), body];
}

function shift(day, days) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}


export async function portfolioView(target, [from = "", to = "", interval = "30"]) {
  const days = Math.max(1, Number(interval) || 30);
  const daily = await get("/delinquency/daily", { from, to });
  const dates = [...new Set(daily.map((row) => row.business_date))];
  const last = to || dates[dates.length - 1] || "";
  const [locks, rolls, vintages, brake] = await Promise.all([
    get("/portfolio/locks-daily", { from: from || dates[0], to: last }),
    last ? get("/delinquency/roll-rates/interval", { from: shift(last, -days), to: last }).catch(() => null) : null,
    get("/delinquency/vintages"),
    get("/brake").catch(() => null),
  ]);

  const controls = node("form", { class: "controls panel", id: "range" },
    node("label", {}, t("range.from"), node("input", { type: "date", name: "from", value: from || dates[0] || "" })),
    node("label", {}, t("range.to"), node("input", { type: "date", name: "to", value: last })),
    node("label", {}, t("range.interval"), node("input", { type: "number", name: "interval", min: "1", max: "366", value: String(days) })),
    node("button", { type: "submit" }, t("range.apply")));
  controls.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(controls);
    location.hash = `#/portfolio/${form.get("from")}/${form.get("to")}/${form.get("interval")}`;
  });

  const brakeCard = node("div", { class: "panel", id: "brake" }, node("h2", {}, t("brake.title")),
    node("span", { class: "figure", id: "brake-state", "data-state": brake ? brake.state : "" }, brake ? t(`brake.${brake.state}`) : t("brake.unknown")),
    node("p", { class: "note" }, brake ? t("brake.detail", { held: brake.held, count: brake.locks_in_window, bound: brake.bound ?? "—", minutes: brake.window_minutes }) : ""),
    brake && brake.held ? node("a", { href: "#/reviews" }, t("nav.reviews")) : "");

  const [delinquencyPanel, delinquencyBody] = panel("delinquency", t("chart.delinquency"));
  const [overduePanel, overdueBody] = panel("overdue", t("chart.overdue"));
  const [locksPanel, locksBody] = panel("locks", t("chart.locks"));
  const title = rolls ? t("chart.rollRates", { from: rolls.from_date ?? "—", to: rolls.to_date }) : t("chart.rollRates", { from: "—", to: "—" });
  const [rollPanel, rollBody] = panel("roll-rates", title);
  const [vintagePanel, vintageBody] = panel("vintages", t("chart.vintage"));

  target.replaceChildren(
    node("h1", {}, t("portfolio.title")),
    node("p", { class: "note" }, t("portfolio.dates", { zone: ZONE })),
    controls,
    node("div", { class: "grid" }, delinquencyPanel, overduePanel, locksPanel, brakeCard, rollPanel, vintagePanel));

  const byDate = new Map();
  for (const row of daily) {
    if (!byDate.has(row.business_date)) byDate.set(row.business_date, {});
    byDate.get(row.business_date)[row.bucket] = row;
  }
  barChart(delinquencyBody, {
    title: t("chart.delinquency"), categories: dates, stacked: true,
    series: BUCKETS.slice(1).map((bucket) => ({ key: bucket, label: bucket, color: COLOURS[bucket], values: dates.map((d) => byDate.get(d)[bucket]?.accounts ?? 0) })),
    yLabel: t("unit.accounts"), xLabel: t("unit.businessDate"), yFormat: count, valueFormat: count,
  });
  const overdue = dates.map((d) => [d, addAmounts(BUCKETS.map((b) => byDate.get(d)[b]?.overdue_balance ?? "0"))]);
  const exact = new Map(overdue);
  lineChart(overdueBody, {
    title: t("chart.overdue"), xs: dates,
    series: [{ key: "overdue", label: t("chart.overdue"), color: "#d1495b", points: overdue.map(([d, v]) => [d, Number(v)]) }],
    yLabel: t("unit.yuan"), xLabel: t("unit.businessDate"), yFormat: yuanShort, valueFormat: (v) => yuan(v.toFixed(2)),
  });
  for (const dot of overdueBody.querySelectorAll("circle")) dot.dataset.amount = exact.get(dot.dataset.x);
  const lockDays = locks.days.map((d) => d.date);
  const lockSeries = [
    { key: "locks", label: t("series.locks"), color: "#d1495b", values: locks.days.map((d) => d.locks) },
    { key: "unlocks", label: t("series.unlocks"), color: "#4c9f70", values: locks.days.map((d) => d.unlocks) },
  ];
  if (locks.days.some((d) => "held" in d)) lockSeries.push({ key: "held", label: t("series.held"), color: "#f2a541", values: locks.days.map((d) => d.held ?? 0) });
  barChart(locksBody, {
    title: t("chart.locks"), categories: lockDays, stacked: false, series: lockSeries,
    yLabel: t("unit.cards"), xLabel: t("unit.day", { zone: locks.timezone }), yFormat: count, valueFormat: count,
  });

  if (rolls) {
    const cells = new Map(rolls.matrix.map((c) => [`${c.from_bucket}>${c.to_bucket}`, c]));
    const rows = ["new", ...BUCKETS].filter((b) => b !== "new" || rolls.matrix.some((c) => c.from_bucket === "new"));
    const name = (b) => (b === "new" ? t("roll.new") : b);
    heatMap(rollBody, {
      title, rows, cols: BUCKETS, rowNames: name, colNames: name, corner: t("roll.from"),
      cell: (from, to) => cells.get(`${from}>${to}`) || null, rateFormat: (r) => percent(r),
    });
    rollBody.append(node("p", { id: "cure" }, node("strong", {}, `${t("cure.rate")}: `),
      node("span", { class: "figure", id: "cure-rate" }, percent(rolls.cure.rate)), " ",
      node("span", { class: "note" }, t("cure.detail", { cured: rolls.cure.cured, delinquent: rolls.cure.delinquent }))));
  }

  const cohorts = vintages.cohorts;
  const mobs = [...new Set(cohorts.flatMap((c) => c.points.map((p) => p.months_on_book)))].sort((a, b) => a - b);
  lineChart(vintageBody, {
    title: t("chart.vintage"), xs: mobs,
    series: cohorts.map((c, i) => ({ key: c.opened, label: t("vintage.opened", { month: c.opened, n: c.accounts }), color: VINTAGE_COLOURS[i % VINTAGE_COLOURS.length], points: c.points.map((p) => [p.months_on_book, p.share]) })),
    yLabel: t("unit.share"), xLabel: t("unit.mob"), yFormat: (v) => percent(v, 0), valueFormat: (v) => percent(v), yTop: Math.max(0.05, ...cohorts.flatMap((c) => c.points.map((p) => p.share))),
  });
}
