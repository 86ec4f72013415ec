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
      row.dataset.key = item.key ?? item[columns[0].key];
      for (const column of columns) {
        const cell = row.insertCell();
        cell.className = column.numeric ? "num" : "";
        cell.dataset.column = column.key;
        const shown = column.render ? column.render(item) : column.text ? column.text(item) : item[column.key];
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

// The same table over rows already loaded (a list the API answers whole): sorted, filtered and
// paged in the page. `state` holds sort, order, filter (text matched in every shown column), offset.
export function localTable(target, { id, columns, rows, state, onChange, pageSize = 25 }) {
  const text = (row, column) => {
    const shown = column.text ? column.text(row) : row[column.key];
    return shown === null || shown === undefined ? "" : String(shown);
  };
  const needle = (state.filter || "").trim().toLowerCase();
  let chosen = needle ? rows.filter((row) => columns.some((c) => text(row, c).toLowerCase().includes(needle))) : rows.slice();
  if (state.sort) {
    const column = columns.find((c) => c.sort === state.sort);
    const value = column && column.value ? column.value : (row) => row[state.sort];
    const sign = state.order === "asc" ? 1 : -1;
    chosen.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sign;
    });
  }
  const offset = Math.min(state.offset || 0, Math.max(0, chosen.length - 1));
  const page = { total: chosen.length, limit: pageSize, offset, items: chosen.slice(offset, offset + pageSize) };
  return pagedTable(target, { id, columns, state: { ...state, offset }, onChange, load: () => Promise.resolve(page) });
}

// A confirmation: what will happen, an optional note, Confirm / Cancel. Resolves to the note, or null.
export function confirmAction({ title, body, noteLabel, noteRequired, confirmLabel, cancelLabel }) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.id = "confirm";
    const form = document.createElement("form");
    form.method = "dialog";
    const h = document.createElement("h2");
    h.textContent = title;
    const p = document.createElement("p");
    p.textContent = body;
    form.append(h, p);
    let note = null;
    if (noteLabel) {
      const label = document.createElement("label");
      note = document.createElement("textarea");
      note.name = "note";
      note.rows = 3;
      note.required = Boolean(noteRequired);
      note.maxLength = 2000;
      label.append(noteLabel, note);
      form.append(label);
    }
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.value = "confirm";
    ok.id = "confirm-yes";
    ok.textContent = confirmLabel;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.id = "confirm-no";
    cancel.textContent = cancelLabel;
    cancel.addEventListener("click", () => dialog.close("cancel"));
    const buttons = document.createElement("div");
    buttons.className = "buttons";
    buttons.append(ok, cancel);
    form.append(buttons);
    dialog.append(form);
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm" ? (note ? note.value.trim() : "") : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
