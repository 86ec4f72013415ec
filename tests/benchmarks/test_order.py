"""The order the bench measures its rows in: a flat ratio's two rows side by side."""

from __future__ import annotations

from benchmarks.rows import ROWS
from benchmarks.runner import measuring_order


def test_each_flat_row_is_measured_right_after_its_full_size_row() -> None:
    order = [row.name for row in measuring_order(list(ROWS))]
    assert sorted(order) == sorted(row.name for row in ROWS)  # every row, once
    flat = [name for name in order if name.startswith("flat.")]
    assert len(flat) == 4
    for name in flat:
        assert order[order.index(name) - 1] == name.removeprefix("flat.")
    assert order.index("flat.sqlite.engine") < order.index("flat.rebuild.projections")  # its store comes first


def test_a_flat_row_without_its_full_size_row_keeps_its_place() -> None:
    names = ["floor.sqlite", "flat.sqlite.engine", "flat.audit.replay"]
    selected = [row for row in ROWS if row.name in names]
    assert [row.name for row in measuring_order(selected)] == names
