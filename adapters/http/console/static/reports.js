// Reports: the policies the store recorded with the evidence attached to a proposal (its what-if
// report over recorded history and its shadow period), and the shadow runs' full comparison.
import { get } from "./api.js";
import { barChart } from "./charts.js";
import { count, yuan } from "./format.js";
import { t } from "./i18n.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function table(id, head, rows) {
  const t_ = el("table", { class: "data", id });
  const h = t_.createTHead().insertRow();
  for (const label of head) h.append(el("th", {}, label));
  const body = t_.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (row.key) tr.dataset.key = row.key;
    for (const cell of row.cells) {
      const td = tr.insertCell();
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell ?? "—";
      if (typeof cell === "number") td.className = "num";
    }
  }
  return t_;
}

const SIDES = ["recorded", "candidate"];
const SIDE_COLOURS = { recorded: "#5d6472", candidate: "#2d6cdf" };

// Two sides' counts by key (commands by type, notices by template) as grouped bars.
function sidesChart(container, title, bySide, yLabel) {
  const keys = [...new Set(SIDES.flatMap((side) => Object.keys(bySide[side] || {})))].sort();
  barChart(container, {
    title, categories: keys, stacked: false, yLabel, xLabel: "", yFormat: count, valueFormat: count,
    series: SIDES.map((side) => ({ key: side, label: t(`report.${side}`), color: SIDE_COLOURS[side], values: keys.map((k) => (bySide[side] || {})[k] ?? 0) })),
  });
}

function sidesTable(id, bySide, format = (v) => v) {
  const keys = [...new Set(SIDES.flatMap((side) => Object.keys(bySide[side] || {})))];
  return table(id, ["", t("report.recorded"), t("report.candidate")],
    keys.map((k) => ({ key: k, cells: [k, ...SIDES.map((side) => format(k, (bySide[side] || {})[k]))] })));
}

function figures(report) {
  return el("div", { class: "cards", id: "report-figures" },
    ...[["accounts", report.accounts], ["facts", report.facts], ["differing", report.differing_count ?? report.differing]]
      .map(([name, value]) => el("div", { class: "card", "data-field": name }, el("div", { class: "label" }, t(`report.${name}`)), el("div", { class: "value" }, count(value ?? 0)))));
}

// A what-if's period is of local dates (null: unbounded); a shadow's of store positions.
function periodText(period) {
  if (!period) return "—";
  if ("from_position" in period) return t("report.positionsPeriod", { from: period.from_position, to: period.to_position });
  if (!period.from && !period.to) return t("report.unbounded");
  return `${period.from ?? "…"} – ${period.to ?? "…"}`;
}

async function indexView(target) {
  const [policies, runs] = await Promise.all([get("/policies"), get("/shadow/runs")]);
  const link = (kind, version) => el("a", { href: `#/reports/${kind}/${encodeURIComponent(version)}` }, version);
  const summary = (evidence) => (evidence ? t("report.evidence", { differing: evidence.differing_count, accounts: evidence.accounts, by: evidence.by ?? "—" }) : "—");
  target.replaceChildren(el("h1", {}, t("nav.reports")),
    el("div", { class: "panel", id: "policies" }, el("h2", {}, t("report.policies")), el("p", { class: "note" }, t("report.policiesNote")),
      table("policies-table", [t("report.version"), t("report.status"), t("report.proposedBy"), t("report.whatif"), t("report.shadow"), t("report.approvedBy")],
        policies.map((p) => ({ key: p.version, cells: [p.digest ? link("policy", p.version) : p.version, p.status, p.proposed_by, summary(p.report), summary(p.shadow), p.approved_by] })))),
    el("div", { class: "panel", id: "shadow-runs" }, el("h2", {}, t("report.shadowRuns")),
      table("shadow-table", [t("report.candidateVersion"), t("report.facts"), t("report.positions"), t("report.started"), t("report.updated")],
        runs.map((r) => ({ key: r.version, cells: [link("shadow", r.version), r.facts, `${r.started_position} – ${r.position - 1}`, r.started_at, r.updated_at] })))));
}

async function policyView(target, version) {
  const [policy, rows] = await Promise.all([get(`/policies/${encodeURIComponent(version)}`), get("/policies")]);
  const active = rows.find((p) => p.status === "active");
  const diff = active && active.version !== version ? await get(`/policies/${encodeURIComponent(active.version)}/diff/${encodeURIComponent(version)}`) : null;
  const panels = [el("h1", {}, `${t("report.policy")} ${policy.version}`),
    el("p", { class: "note" }, `${policy.status ?? policy.origin} · ${policy.digest}`)];
  if (diff) {
    panels.push(el("div", { class: "panel", id: "diff" }, el("h2", {}, t("report.diff", { a: diff.a, b: diff.b })),
      table("diff-table", [t("report.setting"), diff.a, diff.b], diff.differences.map((d) => ({ key: d.setting, cells: [d.setting, JSON.stringify(d.a), JSON.stringify(d.b)] })))));
  }
  for (const [kind, evidence] of [["whatif", policy.steps && policy.steps.report], ["shadow", policy.steps && policy.steps.shadow]]) {
    const body = el("div", { class: "chart-body" });
    const panel = el("div", { class: "panel", id: `evidence-${kind}` }, el("h2", {}, t(`report.${kind}`)));
    if (!evidence) {
      panel.append(el("p", { class: "note" }, t("report.none")));
    } else {
      panel.append(el("p", { class: "note" }, t("report.attachedBy", { by: evidence.by ?? "—", period: periodText(evidence.period) })), figures(evidence), body);
    }
    panels.push(panel);
    if (evidence) sidesChart(body, t("report.commands"), evidence.commands_by_type, t("report.commandsUnit"));
  }
  target.replaceChildren(...panels);
}

async function shadowView(target, version) {
  const report = await get(`/shadow/runs/${encodeURIComponent(version)}/report`);
  const commands = el("div", { class: "chart-body" });
  const shifts = el("div", { class: "chart-body" });
  const locks = report.locks;
  const differing = report.differing_accounts.slice(0, 200);
  target.replaceChildren(
    el("h1", {}, `${t("report.shadow")}: ${report.candidate.version}`),
    el("p", { class: "note", id: "period" }, t("report.shadowPeriod", { from: report.period.from_position, to: report.period.to_position, started: report.period.started_at, updated: report.period.updated_at })),
    figures(report),
    el("div", { class: "grid" },
      el("div", { class: "panel", id: "report-commands" }, el("h2", {}, t("report.commands")), commands),
      el("div", { class: "panel", id: "report-locks" }, el("h2", {}, t("report.locks")),
        table("locks-table", ["", t("report.value")], [
          ["recorded", locks.recorded], ["candidate", locks.candidate], ["locked_only_recorded", locks.locked_only_recorded.length],
          ["locked_only_candidate", locks.locked_only_candidate.length], ["first_lock_earlier", locks.first_lock_earlier], ["first_lock_later", locks.first_lock_later],
        ].map(([k, v]) => ({ key: k, cells: [t(`report.locks.${k}`), v] }))), shifts),
      el("div", { class: "panel", id: "report-notices" }, el("h2", {}, t("report.notices")), sidesTable("notices-table", report.notices, (_, v) => v ?? 0)),
      el("div", { class: "panel", id: "report-portfolio" }, el("h2", {}, t("report.portfolio")),
        sidesTable("portfolio-table", report.portfolio, (k, v) => (k === "total_credit_limit" ? yuan(v) : v)),
        el("h2", {}, t("report.limits")), sidesTable("limits-table", report.limit_changes, (_, v) => v ?? 0))),
    el("div", { class: "panel", id: "report-differing" }, el("h2", {}, t("report.differingAccounts", { n: report.differing_count })),
      el("p", { class: "accounts" }, ...differing.flatMap((id) => [el("a", { href: `#/account/${encodeURIComponent(id)}`, "data-account": id }, id), " "])),
      report.differing_count > differing.length ? el("p", { class: "note" }, t("report.more", { n: report.differing_count - differing.length })) : null));
  sidesChart(commands, t("report.commands"), report.commands_by_type, t("report.commandsUnit"));
  const days = Object.keys(locks.shift_days);
  if (days.length) {
    barChart(shifts, {
      title: t("report.shiftDays"), categories: days, stacked: false, yLabel: t("unit.accounts"), xLabel: t("report.shiftUnit"),
      yFormat: count, valueFormat: count, series: [{ key: "shift", label: t("report.shiftDays"), color: "#2d6cdf", values: days.map((d) => locks.shift_days[d]) }],
    });
  }
}

export async function reportsView(target, [kind = "", version = ""]) {
  if (kind === "policy" && version) return policyView(target, version);
  if (kind === "shadow" && version) return shadowView(target, version);
  return indexView(target);
}
