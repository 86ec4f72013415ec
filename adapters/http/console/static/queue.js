// The collection queue: sortable (server-side), filterable by bucket and days past due, paginated.
import { get } from "./api.js";
import { count, localTime, yuan } from "./format.js";
import { t } from "./i18n.js";
import { BUCKETS } from "./portfolio.js";
import { pagedTable } from "./table.js";

const PAGE = 25;

function link(id) {
  const a = document.createElement("a");
  a.href = `#/account/${encodeURIComponent(id)}`;
  a.textContent = id;
  return a;
}

export async function queueView(target, [query = ""]) {
  const params = new URLSearchParams(query);
  const state = {
    sort: params.get("sort") || "", order: params.get("order") || "desc", offset: Number(params.get("offset") || 0),
    bucket: params.get("bucket") || "", min: params.get("min") || "",
  };
  const go = (next) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== "" && v !== 0 && v !== null) q.set(k, String(v));
    location.hash = `#/queue/${q.toString()}`;
  };
  const bucket = document.createElement("select");
  bucket.name = "bucket";
  for (const b of ["", ...BUCKETS.slice(1)]) bucket.append(new Option(b || t("queue.all"), b, false, b === state.bucket));
  const min = document.createElement("input");
  Object.assign(min, { type: "number", name: "min", min: 0, max: 36500, value: state.min });
  const filters = document.createElement("form");
  filters.className = "controls panel";
  filters.id = "queue-filters";
  const l1 = document.createElement("label");
  l1.append(t("queue.bucket"), bucket);
  const l2 = document.createElement("label");
  l2.append(t("queue.minDpd"), min);
  const apply = document.createElement("button");
  apply.type = "submit";
  apply.textContent = t("range.apply");
  filters.append(l1, l2, apply);
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    go({ ...state, bucket: bucket.value, min: min.value, offset: 0 });
  });
  const h1 = document.createElement("h1");
  h1.textContent = t("queue.title");
  const holder = document.createElement("div");
  holder.className = "panel";
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = t("queue.zones");
  target.replaceChildren(h1, note, filters, holder);
  await pagedTable(holder, {
    id: "queue-table",
    state,
    onChange: go,
    load: (s) => get("/collection-queue", {
      limit: PAGE, offset: s.offset, bucket: s.bucket, min_days_past_due: s.min, sort: s.sort, order: s.sort ? s.order : "",
    }),
    columns: [
      { key: "account_id", label: t("queue.account"), sort: "account_id", render: (r) => link(r.account_id) },
      { key: "rank", label: t("queue.rank"), numeric: true },
      { key: "days_past_due", label: t("queue.dpd"), sort: "days_past_due", numeric: true, render: (r) => `${count(r.days_past_due)} (${r.delinquency_bucket})` },
      { key: "overdue_outstanding", label: t("queue.overdue"), sort: "overdue_outstanding", numeric: true, render: (r) => yuan(r.overdue_outstanding) },
      { key: "overdue_bills", label: t("queue.bills"), numeric: true },
      { key: "broken_plans", label: t("queue.plans"), sort: "broken_plans", numeric: true },
      { key: "card_locked", label: t("queue.card"), render: (r) => (r.card_locked ? t("account.locked") : t("account.unlocked")) },
      { key: "notices_sent", label: t("queue.notices"), sort: "notices_sent", numeric: true },
      { key: "last_notice_template", label: t("queue.lastNotice"), render: (r) => (r.last_notice_template ? `${r.last_notice_template} · ${r.last_notice_channel} · ${localTime(r.last_notice_at)}` : "—") },
      { key: "overdue_since", label: t("queue.since"), sort: "overdue_since", render: (r) => localTime(r.overdue_since) },
    ],
  });
}
