"""The resources every definition of the code location uses, bound once."""

import dagster as dg

from pipelines.resources import LakeResource, PrivacyResource, StoreResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"store": StoreResource(), "lake": LakeResource(), "privacy": PrivacyResource()}
    )
