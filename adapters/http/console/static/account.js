// Account: search by id, the status card and the timeline (facts, decisions with rule and the
// facts they saw, commands), times in the account's own zone, labelled.
import { ApiError, get } from "./api.js";
import { count, localTime, yuan } from "./format.js";
import { t } from "./i18n.js";

function node(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  element.append(...children.filter((c) => c !== null && c !== undefined));
  return element;
}

function card(field, label, value, on = false) {
  return node("div", { class: "card", "data-field": field }, node("div", { class: "label" }, label),
    node("div", { class: `value${on ? " badge on" : ""}` }, value));
}

function facts(object) {
  if (!object || typeof object !== "object") return "";
  return Object.entries(object).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

export function statusCards(a, extra = {}) {
  const review = a.review_request_id
    ? `${a.review_request_id} · ${t("account.reviewDue", { date: a.review_deadline })}${extra.business_days_left !== undefined ? ` (${extra.business_days_left})` : ""}${a.review_escalated ? " ⚠" : ""}`
    : t("none");
  return node("div", { class: "cards", id: "status-card" },
    card("status", t("account.status"), t(`status.${a.status}`)),
    card("card_locked", t("account.card"), a.card_locked ? t("account.locked") : t("account.unlocked"), a.card_locked),
    card("credit_line_suspended", t("account.line"), a.credit_line_suspended ? t("account.suspended") : t("account.active"), a.credit_line_suspended),
    card("credit_limit", t("account.limit"), yuan(a.credit_limit)),
    card("original_limit", t("account.originalLimit"), yuan(a.original_limit)),
    card("overdue_outstanding", t("account.overdue"), yuan(a.overdue_outstanding)),
    card("outstanding", t("account.outstanding"), yuan(a.outstanding)),
    card("credit_balance", t("account.credit"), yuan(a.credit_balance)),
    card("days_past_due", t("account.dpd"), `${count(a.days_past_due)} (${a.delinquency_bucket})`),
    card("score", t("account.score"), a.score === null || a.score === undefined ? t("none") : String(a.score)),
    card("tier", t("account.tier"), a.tier ?? a.score_tier ?? t("none")),
    card("review", t("account.review"), review),
    card("watch", t("account.watch"), a.watch_reason ?? extra.watch_reason ?? t("none")));
}

export async function accountView(target, [id = ""]) {
  const form = node("form", { class: "controls panel", id: "account-search" },
    node("label", {}, t("account.search"), node("input", { name: "account", value: id, required: "" })),
    node("button", { type: "submit" }, t("account.go")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/account/${encodeURIComponent(new FormData(form).get("account").trim())}`;
  });
  target.replaceChildren(node("h1", {}, t("account.title")), form);
  if (!id) return;
  let answer;
  try {
    answer = await get(`/accounts/${encodeURIComponent(id)}`, { limit: 1000 });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 422)) {
      target.append(node("p", { class: "error", id: "not-found" }, t("account.notFound")));
      return;
    }
    throw error;
  }
  const a = answer.account;
  const decisions = new Map(answer.decisions.items.map((d) => [`${d.position}/${d.seq}`, d]));
  const list = node("ol", { class: "timeline", id: "timeline" });
  for (const entry of answer.history.items) {
    const decision = decisions.get(`${entry.position}/${entry.seq}`);
    const kind = entry.seq === 0 ? "fact" : entry.command_id ? "command" : "decision";
    const detail = decision
      ? node("div", { class: "facts" },
          `${t("account.rule")} ${decision.rule} · ${t("account.policy")} ${decision.policy_version}`,
          decision.command_type ? ` · ${t("account.command")} ${decision.command_type}` : "",
          node("br"), facts(decision.facts))
      : null;
    list.append(node("li", { class: kind, "data-entry": entry.entry, "data-position": String(entry.position), "data-seq": String(entry.seq) },
      node("span", { class: "when" }, localTime(entry.occurred_at)),
      node("span", { class: "kind" }, entry.entry),
      entry.amount ? node("span", { class: "amount" }, `${yuan(entry.amount)} `) : null,
      node("span", { class: "what" }, entry.description), detail));
  }
  target.append(
    node("div", { class: "panel" }, node("h2", {}, `${a.account_id}`),
      node("p", { class: "note", id: "zone" }, t("account.timezone", { zone: a.timezone })), statusCards(a)),
    node("div", { class: "panel" }, node("h2", {}, `${t("account.timeline")} (${answer.history.total})`), list));
}
