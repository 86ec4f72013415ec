// A sortable, filterable, paginated table over an API list ({total, limit, offset, items}).
import { t } from "./i18n.js";

export function pagedTable(target, { id, columns, load, state, onChange }) {
  const table = document.createElement("table");
  table.className = "data";
  table.id = id;
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement("th");
    th.className = column.numeric ? "num" : "";
    if (column.sort) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.sort = column.sort;
      const arrow = state.sort === column.sort ? (state.order === "asc" ? " ▲" : " ▼") : "";
      button.textContent = column.label + arrow;
      button.addEventListener("click", () => {
        const order = state.sort === column.sort && state.order === "desc" ? "asc" : "desc";
        onChange({ ...state, sort: column.sort, order, offset: 0 });
      });
      th.appendChild(button);
    } else {
      th.textContent = column.label;
    }
    head.appendChild(th);
  }
  const body = table.createTBody();
  const pager = document.createElement("div");
  pager.className = "pager";
  target.append(table, pager);
  return load(state).then((page) => {
    for (const item of page.items) {
      const row = body.insertRow();
      row.dataset.key = item[columns[0].key] ?? item.account_id;
      for (const column of columns) {
        const cell = row.insertCell();
        cell.className = column.numeric ? "num" : "";
        cell.dataset.column = column.key;
        const shown = column.render ? column.render(item) : item[column.key];
        if (shown instanceof Node) cell.appendChild(shown);
        else cell.textContent = shown ?? "—";
      }
    }
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.items.length;
    const prev = document.createElement("button");
    prev.textContent = t("page.prev");
    prev.disabled = page.offset === 0;
    prev.dataset.page = "prev";
    prev.addEventListener("click", () => onChange({ ...state, offset: Math.max(0, page.offset - page.limit) }));
    const next = document.createElement("button");
    next.textContent = t("page.next");
    next.disabled = last >= page.total;
    next.dataset.page = "next";
    next.addEventListener("click", () => onChange({ ...state, offset: page.offset + page.limit }));
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = t("page.of", { first, last, total: page.total });
    pager.append(prev, where, next);
    return page;
  });
}
