// Account: search by id, the status card and the timeline (facts, decisions with rule and the
// facts they saw, commands), times in the account's own zone, labelled.
import { ApiError, get } from "./api.js";
import { count, yuan, zonedTime } from "./format.js";
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

export function statusCards(a, extra = {}) {
  const review = a.review_request_id
    ? `${a.review_request_id} · ${t("account.reviewDue", { date: a.review_deadline })}${extra.business_days_left !== undefined && extra.business_days_left !== null ? ` · ${t("account.daysLeft", { n: extra.business_days_left })}` : ""}${a.review_escalated ? " ⚠" : ""}`
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
    card("tier", t("account.tier"), a.risk_tier ?? t("none")),
    card("review", t("account.review"), review),
    card("held_lock_id", t("account.held"), a.held_lock_id ? node("a", { href: "#/reviews" }, t("account.heldYes")) : t("none"), Boolean(a.held_lock_id)),
    card("watch", t("account.watch"), a.watch_reason ? `${a.watch_reason} (${t("account.since", { date: zonedTime(a.watch_since, a.timezone) })})` : t("none")));
}

function pairs(object) {
  if (!object || typeof object !== "object") return "";
  return Object.entries(object).map(([k, v]) => `${k}=${v !== null && typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

function decisionItem(d, policy) {
  const command = d.command ? `${t("account.command")} ${d.command.type}${d.command.command_id ? ` (${d.command.command_id})` : ""}` : t("account.noCommand");
  return node("li", { class: d.command ? "command" : "decision", "data-rule": d.rule },
    node("span", { class: "kind" }, d.rule), node("span", { class: "what" }, `${t("account.policy")} ${policy ?? "—"} · ${command}`),
    Object.keys(d.thresholds || {}).length ? node("div", { class: "facts thresholds" }, `${t("account.thresholds")}: ${pairs(d.thresholds)}`) : null,
    Object.keys(d.facts || {}).length ? node("div", { class: "facts seen" }, `${t("account.seen")}: ${pairs(d.facts)}`) : null,
    Object.keys(d.changes || {}).length ? node("div", { class: "facts changes" }, `${t("account.changes")}: ${pairs(d.changes)}`) : null);
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
  let told;
  let reviews;
  try {
    [answer, told, reviews] = await Promise.all([
      get(`/accounts/${encodeURIComponent(id)}`, { limit: 1000 }),
      get(`/accounts/${encodeURIComponent(id)}/story`),
      get("/reviews", { limit: 1000 }).catch(() => []),
    ]);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 422)) {
      target.append(node("p", { class: "error", id: "not-found" }, t("account.notFound")));
      return;
    }
    throw error;
  }
  const a = answer.account;
  const review = reviews.find((r) => r.account_id === a.account_id);
  const sentences = new Map(answer.history.items.filter((h) => h.seq === 0).map((h) => [h.event_id, h.description]));
  const list = node("ol", { class: "timeline", id: "timeline" });
  for (const fact of told.facts) {
    const actor = fact.operator_action ? node("div", { class: "facts actor" }, t("account.actedBy", { who: fact.operator_action.by ?? fact.data.actor ?? "—" })) : null;
    list.append(node("li", { class: "fact", "data-type": fact.type, "data-event": fact.event_id, "data-n": String(fact.n) },
      node("span", { class: "when" }, zonedTime(fact.occurred_at, a.timezone)),
      node("span", { class: "kind" }, fact.type),
      node("span", { class: "what" }, sentences.get(fact.event_id) ?? ""),
      Object.keys(fact.data || {}).length ? node("div", { class: "facts data" }, pairs(fact.data)) : null,
      actor,
      fact.decisions.length ? node("ul", { class: "decisions" }, ...fact.decisions.map((d) => decisionItem(d, fact.policy_version))) : null));
  }
  const decisions = told.facts.reduce((n, f) => n + f.decisions.length, 0);
  target.append(
    node("div", { class: "panel" }, node("h2", {}, `${a.account_id}`),
      node("p", { class: "note", id: "zone" }, t("account.timezone", { zone: a.timezone })), statusCards(a, review || {})),
    node("div", { class: "panel" }, node("h2", {}, `${t("account.timeline")} (${t("account.counts", { facts: told.facts.length, decisions })})`),
      node("p", { class: "note" }, t("account.storyNote")), list));
}
