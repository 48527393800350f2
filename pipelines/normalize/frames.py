"""Frame helpers shared by the normalizers."""

from __future__ import annotations

import polars as pl


def where(frame: pl.DataFrame, cond: pl.Expr, *exprs: pl.Expr) -> pl.DataFrame:
    """Apply ``exprs`` only to the rows where ``cond`` holds (row order is not kept).

    Most values need none of the expensive steps, and Polars evaluates both branches of a
    when/then on every row, so the rows that need a step are split off instead.
    """
    mask = frame.select(cond.fill_null(False)).to_series()
    hit = int(mask.sum())
    if hit == 0:
        return frame
    if hit == frame.height:
        return frame.lazy().with_columns(*exprs).collect(engine="in-memory")
    return pl.concat([frame.filter(~mask), frame.filter(mask).lazy().with_columns(*exprs).collect(engine="in-memory")],
                     how="vertical")
