"""FLOP counting with fvcore (one multiply-add = one FLOP, i.e. GMACs, as in the literature)."""

from atfr_lightning.flops.counting import (
    CostTable,
    PathwayCostTable,
    cached_cost_table,
    count_gflops,
    sgs_cost_table,
)

__all__ = ["CostTable", "PathwayCostTable", "cached_cost_table", "count_gflops", "sgs_cost_table"]
