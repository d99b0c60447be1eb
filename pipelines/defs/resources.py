"""The resource every definition of the code location uses, bound once."""

import dagster as dg

from pipelines.resources import MemgraphResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"memgraph": MemgraphResource()})
