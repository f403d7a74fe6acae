"""Render a kustomization in Python: the subset of kustomize that ``deploy/k8s`` uses, nothing more.

No kustomize binary installs from Debian's packages or PyPI, so the tests render the overlays
themselves. Supported: ``resources`` (files and directories), ``namespace``, ``labels`` (pairs,
metadata only), ``images`` and ``patches`` with inline JSON 6902 operations and a
kind/name(regex) target. Any other key is an error, so the manifests cannot silently rely on a
feature this renderer ignores. Where ``kubectl`` is installed, the tests compare the two renderings.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}


class KustomizeError(ValueError):
    """A kustomization this renderer cannot render faithfully."""


def render(directory: Path) -> list[dict[str, Any]]:
    """The resources ``kubectl kustomize DIRECTORY`` would print, in file order."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text()) or {}
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization keys {sorted(unknown)}")
    resources: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources += render(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in spec.get("patches", []):
        _apply_patch(resources, patch, directory)
    for image in spec.get("images", []):
        _set_image(resources, image)
    for label in spec.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise KustomizeError("labels: only metadata labels (no selectors, no templates) are supported")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def _matches(resource: dict[str, Any], target: dict[str, str]) -> bool:
    unknown = set(target) - {"kind", "name"}
    if unknown:
        raise KustomizeError(f"patch target: unsupported selectors {sorted(unknown)}")
    return ("kind" not in target or resource["kind"] == target["kind"]) and (
        "name" not in target or re.fullmatch(target["name"], resource["metadata"]["name"]) is not None
    )


def _apply_patch(resources: list[dict[str, Any]], patch: dict[str, Any], directory: Path) -> None:
    if set(patch) != {"target", "patch"}:
        raise KustomizeError(f"{directory}: only inline JSON 6902 patches with a target are supported")
    operations = yaml.safe_load(patch["patch"])
    matched = [r for r in resources if _matches(r, patch["target"])]
    if not matched:
        raise KustomizeError(f"{directory}: patch target {patch['target']} matches no resource")
    for resource in matched:
        for operation in operations:
            _json_patch(resource, operation)


def _json_patch(document: dict[str, Any], operation: dict[str, Any]) -> None:
    """RFC 6902 ``add``/``replace``/``remove`` (what the overlays use)."""
    op, path = operation["op"], operation["path"]
    keys = [k.replace("~1", "/").replace("~0", "~") for k in path.lstrip("/").split("/")]
    parent: Any = document
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent[key]
    last: Any = int(keys[-1]) if isinstance(parent, list) and keys[-1] != "-" else keys[-1]
    if op == "replace":
        if isinstance(parent, dict) and last not in parent:
            raise KustomizeError(f"replace: {path} does not exist")
        parent[last] = copy.deepcopy(operation["value"])
    elif op == "add":
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else last, copy.deepcopy(operation["value"]))
        else:
            parent[last] = copy.deepcopy(operation["value"])
    elif op == "remove":
        del parent[last]
    else:
        raise KustomizeError(f"unsupported JSON patch operation {op!r}")


def _set_image(resources: list[dict[str, Any]], image: dict[str, str]) -> None:
    for resource in resources:
        pod = resource.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
