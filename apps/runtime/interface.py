"""What every runtime offers ``manage.py`` and ``status``, as a typed interface.

``manage.py`` builds one runtime (``local`` or ``docker``) and asks it, through this interface,
for its services and for the settings its processes need; code that needs more of the local
runtime narrows with ``is_local``. Settings are built here from the runtime's values and passed
in; nothing is written to ``os.environ``: a child process gets its environment explicitly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal, Protocol, TypeGuard, TypeVar

from pydantic_settings import BaseSettings

from common.settings import load

if TYPE_CHECKING:
    from apps.runtime.local import LocalRuntime, ServiceStatus
    from apps.runtime.roles import Role

S = TypeVar("S", bound=BaseSettings)


class Runtime(Protocol):
    """Start and stop service groups; say what runs and how a process of a role reaches it."""

    kind: Literal["local", "docker"]

    def up(self) -> None: ...

    def start_group(self, group: str) -> None: ...

    def stop_group(self, group: str) -> None: ...

    def services(self) -> list[ServiceStatus]:
        """The supervised services and their state (empty where compose reports its own)."""
        ...

    def child_env(self, role: Role | None = None) -> dict[str, str]:
        """``PIPELINE_*`` values a process of ``role`` needs to find this runtime's services."""
        ...


def is_local(runtime: Runtime) -> TypeGuard[LocalRuntime]:
    """The local runtime (supervised processes under ``.runtime/``), with its extra methods."""
    return runtime.kind == "local"


def child_environment(runtime: Runtime, role: Role | None = None) -> dict[str, str]:
    """The environment of a child process: the runtime's values, under the caller's own variables.

    Explicit ``PIPELINE_*`` variables win over the local runtime's addresses.
    """
    return {**runtime.child_env(role), **os.environ}


def settings_for(settings_cls: type[S], runtime: Runtime, role: Role | None = None) -> S:
    """``settings_cls`` as a process of ``role`` would load it in ``child_environment``."""
    prefix = str(settings_cls.model_config.get("env_prefix") or "").upper()
    values = runtime.child_env(role)
    overrides = {
        name: values[key]
        for name in settings_cls.model_fields
        if (key := f"{prefix}{name}".upper()) in values and key not in os.environ
    }
    return load(settings_cls, **overrides)  # type: ignore[return-value]
