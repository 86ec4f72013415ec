// Work queues of operators: open unlock reviews and the locks the emergency brake holds.
// Operators approve or reject a review and release or drop a held lock, each after a confirmation;
// the action goes to the API with the session's CSRF token, and the tables are read again to show its effect.
import { call, get } from "./api.js";
import { zonedTime } from "./format.js";
import { t } from "./i18n.js";
import { confirmAction, localTable } from "./table.js";

const ZONE = "Asia/Shanghai";
const PAGE = 20;
const state = { reviews: { sort: "deadline", order: "asc", offset: 0, filter: "" }, held: { sort: "cause_at", order: "asc", offset: 0, filter: "" } };
let flash = null; // the outcome of the last action, shown once the tables are read again

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function link(id) {
  return el("a", { href: `#/account/${encodeURIComponent(id)}` }, id);
}

function button(label, kind, onClick) {
  const b = el("button", { type: "button", class: "act", "data-action": kind }, label);
  b.addEventListener("click", onClick);
  return b;
}

// Reviews are listed from the read models, which follow the store within moments of an action:
// the page reads again until the action shows there (at most a few seconds), then draws.
async function settle(done, seconds = 8) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until && !(await done())) await new Promise((r) => setTimeout(r, 200));
}

async function act(rerender, { title, body, noteLabel, noteRequired, confirmLabel, run, done, shown }) {
  const note = await confirmAction({ title, body, noteLabel, noteRequired, confirmLabel, cancelLabel: t("action.cancel") });
  if (note === null) return;
  try {
    const outcome = await run(note);
    if (shown) await settle(shown);
    flash = { ok: true, text: done(outcome) };
  } catch (error) {
    flash = { ok: false, text: `${t("action.refused")}: ${error.message}` };
  }
  await rerender();
}

function filterBox(which, rerender) {
  const input = el("input", { type: "search", name: `${which}-filter`, value: state[which].filter, placeholder: t("table.filter") });
  input.addEventListener("change", () => {
    state[which] = { ...state[which], filter: input.value, offset: 0 };
    rerender();
  });
  return el("label", {}, t("table.filter"), input);
}

export async function reviewsView(target, _rest, who) {
  const operator = who.role === "operator" || who.role === "admin";
  const rerender = async () => {
    target.dataset.ready = "false";
    await reviewsView(target, _rest, who);
    target.dataset.ready = "true";
  };
  const [brake, reviews, held] = await Promise.all([get("/brake"), get("/reviews", { limit: 1000 }), get("/held", { limit: 10000 })]);

  const message = flash ? el("p", { class: `flash${flash.ok ? "" : " error"}`, id: "flash", role: "status" }, flash.text) : null;
  flash = null;
  const brakePanel = el("div", { class: "panel", id: "brake" }, el("h2", {}, t("brake.title")),
    el("span", { class: "figure", id: "brake-state", "data-state": brake.state }, t(`brake.${brake.state}`)),
    el("p", { class: "note" }, t("brake.detail", { held: brake.held, count: brake.locks_in_window, bound: brake.bound ?? "—", minutes: brake.window_minutes })));

  const reviewsPanel = el("div", { class: "panel", id: "reviews" }, el("h2", {}, `${t("reviews.title")} (${reviews.length})`),
    el("div", { class: "controls" }, filterBox("reviews", rerender)));
  const heldPanel = el("div", { class: "panel", id: "held" }, el("h2", {}, `${t("held.title")} (${held.length})`),
    el("p", { class: "note" }, t("held.zone", { zone: ZONE })), el("div", { class: "controls" }, filterBox("held", rerender)));
  target.replaceChildren(...[el("h1", {}, t("nav.reviews")), message, brakePanel, reviewsPanel, heldPanel].filter(Boolean));

  const reviewColumns = [
    { key: "account_id", label: t("queue.account"), sort: "account_id", render: (r) => link(r.account_id) },
    { key: "request_id", label: t("reviews.request"), sort: "request_id" },
    { key: "requested_on", label: t("reviews.requested"), sort: "requested_on" },
    { key: "deadline", label: t("reviews.deadline"), sort: "deadline" },
    { key: "business_days_left", label: t("reviews.left"), sort: "business_days_left", numeric: true },
    { key: "escalated", label: t("reviews.escalated"), sort: "escalated", text: (r) => (r.escalated ? t("yes") : t("no")) },
  ];
  if (operator) {
    reviewColumns.push({ key: "actions", label: t("action.title"), render: (r) => el("span", {},
      button(t("reviews.approve"), "approve", () => decide(r, true)), button(t("reviews.reject"), "reject", () => decide(r, false))) });
  }
  const decide = (review, approved) => act(rerender, {
    title: t(approved ? "reviews.approveTitle" : "reviews.rejectTitle", { account: review.account_id }),
    body: t("reviews.confirmBody", { request: review.request_id, deadline: review.deadline }),
    noteLabel: t("reviews.note"), noteRequired: true, confirmLabel: t(approved ? "reviews.approve" : "reviews.reject"),
    run: (note) => call("POST", `/reviews/${encodeURIComponent(review.account_id)}/decision`, { approved, note, request_id: review.request_id }),
    done: () => t(approved ? "reviews.approved" : "reviews.rejected", { account: review.account_id }),
    shown: async () => !(await get("/reviews", { limit: 1000 })).some((r) => r.request_id === review.request_id),
  });
  await localTable(reviewsPanel, {
    id: "reviews-table", columns: reviewColumns, rows: reviews, pageSize: PAGE, state: state.reviews,
    onChange: (next) => { state.reviews = next; rerender(); },
  });

  const heldColumns = [
    { key: "account_id", label: t("queue.account"), sort: "account_id", render: (h) => link(h.account_id) },
    { key: "rule", label: t("held.rule"), sort: "rule" },
    { key: "cause_at", label: t("held.cause"), sort: "cause_at", text: (h) => zonedTime(h.cause_at, ZONE) },
    { key: "count", label: t("held.verdict"), sort: "count", numeric: true, text: (h) => `${h.count} / ${h.bound} (${h.active})` },
    { key: "commands", label: t("held.commands"), text: (h) => h.commands.map((c) => c.type).join(", ") },
  ];
  if (operator) {
    heldColumns.push({ key: "actions", label: t("action.title"), render: (h) => el("span", {},
      button(t("held.release"), "release", () => hold(h, "release")), button(t("held.drop"), "drop", () => hold(h, "drop"))) });
  }
  const hold = (h, verb) => act(rerender, {
    title: t(`held.${verb}Title`, { account: h.account_id }),
    body: t(`held.${verb}Body`, { commands: h.commands.map((c) => c.type).join(", "), hold: h.hold_id }),
    noteLabel: t("held.reason"), noteRequired: verb === "drop", confirmLabel: t(`held.${verb}`),
    run: (reason) => call("POST", `/held/${h.hold_id}/${verb}`, reason ? { reason } : {}),
    done: (outcome) => t(verb === "release" ? "held.released" : "held.dropped", { account: h.account_id, commands: (outcome.commands || []).map((c) => c.type).join(", ") || "—" }),
  });
  await localTable(heldPanel, {
    id: "held-table", columns: heldColumns, rows: held.map((h) => ({ ...h, key: h.hold_id })), pageSize: PAGE, state: state.held,
    onChange: (next) => { state.held = next; rerender(); },
  });
}
