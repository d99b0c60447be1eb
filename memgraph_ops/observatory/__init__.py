"""The Observatory: lineage, graph metrics and lineage history over the lake.

Every function takes a `Lake` or anything with a `.lake` (a `Memgraph`), so notebooks call
them directly:

    >>> import memgraph_ops
    >>> from memgraph_ops import observatory
    >>> mg = memgraph_ops.open("store")                                  # doctest: +SKIP
    >>> observatory.refresh(mg)                       # new day partitions + snapshots
    >>> observatory.table(mg, "activity")             # read a result table
    >>> observatory.template_lineage(mg, "CodeReview.TPL.006", as_of=3)
    >>> observatory.lineage_diff(mg, before="2025-05-20")

Modules: `facts` (joined fact frames), `metrics` (daily metrics), `structure` and `graph`
(degrees, components, PageRank, traversal), `lineage`, `history` (time travel), `queries`,
`tables` (the Delta tables and their incremental refresh), `cli`.
"""

from typing import TYPE_CHECKING

from memgraph_ops._lazy import exports

if TYPE_CHECKING:
    from memgraph_ops.observatory.graph import TraversalIndex
    from memgraph_ops.observatory.history import TemplateLineage
    from memgraph_ops.observatory.lineage import Impact
    from memgraph_ops.observatory.notebook import (
        handled_by_duration,
        impact,
        lineage_diff,
        prompts_from_template,
        recent_context,
        refresh,
        session_chains,
        table,
        template_lineage,
        templates,
        tool_success_rate,
        traversal_index,
    )
    from memgraph_ops.observatory.tables import RefreshReport

__all__ = [
    "Impact",
    "RefreshReport",
    "TemplateLineage",
    "TraversalIndex",
    "handled_by_duration",
    "impact",
    "lineage_diff",
    "prompts_from_template",
    "recent_context",
    "refresh",
    "session_chains",
    "table",
    "template_lineage",
    "templates",
    "tool_success_rate",
    "traversal_index",
]

# Imported on first use: the CLI's parser (`observatory.cli`) must not import polars and Delta.
__getattr__ = exports(__name__, dict.fromkeys(__all__, "memgraph_ops.observatory.notebook"))
