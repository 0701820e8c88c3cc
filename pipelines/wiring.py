"""How promosync's definitions are named and which resources they ask for: a user's choices.

The standalone project (`pipelines/definitions.py`) keeps plain keys and the resource keys
`warehouse`, `voucherify`, `talon_one`; a user's project (`promosync.build_definitions`) gets
resource keys that cannot collide with its own (`promosync_warehouse`, …) and, if it asks, a key
prefix, other group names, or a translator of its own, as dagster-dlt and dagster-sling do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

# What `dg.define_asset_job` returns (Dagster exports no public name for it).
AssetJob = type(dg.define_asset_job("promosync_job_type"))


class PromosyncTranslator:
    """Names of promosync's assets, groups and jobs; subclass it and override a method to rename.

    `name` is promosync's own name (a warehouse table such as `voucherify_customers`, a push input
    such as `push_voucherify_metadata`, `analyst_views`); `group` is promosync's group
    (`voucherify`, `talon_one`, `push`, `push_inputs`, `analytics`).
    """

    def __init__(
        self,
        key_prefix: str | Sequence[str] | None = None,
        group_names: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(key_prefix, str):
            key_prefix = [key_prefix]
        self.key_prefix = list(key_prefix or [])
        self.group_names = dict(group_names or {})  # promosync's group: the user's

    def get_asset_key(self, name: str) -> dg.AssetKey:
        """The asset key of promosync's asset `name` (the prefix, then the name)."""
        return dg.AssetKey([*self.key_prefix, name])

    def get_group_name(self, group: str) -> str:
        """The asset group of promosync's group `group` (renamed by `group_names` if there)."""
        return self.group_names.get(group, group)

    def get_definition_name(self, name: str) -> str:
        """The name of a job, schedule or sensor (`voucherify_pull`, …): the prefix joined by
        `_` (unless the name starts with it already: `promosync_checks` under `promosync`), so
        two promosync builds (two accounts) can live in one project."""
        prefix = "_".join(self.key_prefix)
        if not prefix or name.startswith(f"{prefix}_"):
            return name
        return f"{prefix}_{name}"


@dataclass(frozen=True)
class ResourceKeys:
    """The resource keys promosync's assets ask for."""

    warehouse: str = "promosync_warehouse"
    voucherify: str = "promosync_voucherify"
    talon_one: str = "promosync_talon_one"

    def api(self, platform: str) -> str:
        """The key of `platform`'s API resource."""
        return getattr(self, platform)


@dataclass(frozen=True)
class Wiring:
    """Everything a factory needs besides the declarations: names, resource keys and the
    concurrency pool of the steps that use the warehouse (None: no pool)."""

    translator: PromosyncTranslator = field(default_factory=PromosyncTranslator)
    resource_keys: ResourceKeys = field(default_factory=ResourceKeys)
    pool: str | None = None

    def key(self, name: str) -> dg.AssetKey:
        return self.translator.get_asset_key(name)

    def group(self, group: str) -> str:
        return self.translator.get_group_name(group)

    def name(self, name: str) -> str:
        return self.translator.get_definition_name(name)

    def op(self, name: str) -> str:
        """The op (step) name of promosync's asset `name`, as run config addresses it."""
        return self.key(name).to_python_identifier()

    @property
    def warehouse(self) -> str:
        return self.resource_keys.warehouse


STANDALONE = Wiring(resource_keys=ResourceKeys("warehouse", "voucherify", "talon_one"))
