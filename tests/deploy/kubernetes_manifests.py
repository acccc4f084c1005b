"""Reads deploy/kubernetes: its documents, kustomizations, and the overlay's patches applied.

No kustomize binary is installed here (nothing on PyPI, apt or npm ships one), so the overlay is
rendered the way its patches are written: each patch is a partial object merged into the base
object of the same kind and name, maps merged key by key, lists replaced whole. The overlay's
patches are written so that this and kustomize's strategic merge give the same result.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from tests.support.processes import REPO

ROOT = REPO / "deploy" / "kubernetes"
BASE = ROOT / "base"
OVERLAY = ROOT / "overlays" / "production"
KEDA = ROOT / "optional" / "keda"
KUBERNETES_VERSION = "1.34.0"  # the version the manifests are written for and validated against


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization(folder: Path) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def manifest_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"}


def base_objects() -> list[dict]:
    return [doc for name in kustomization(BASE)["resources"] for doc in documents(BASE / name)]


def key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def merge(base: dict, patch: dict) -> dict:
    merged = copy.deepcopy(base)
    for name, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = merge(merged[name], value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


def overlay_patches() -> list[dict]:
    return [doc for entry in kustomization(OVERLAY)["patches"] for doc in documents(OVERLAY / entry["path"])]


def rendered_overlay() -> list[dict]:
    """The base with the overlay's patches, namespace and image tag applied, plus its own resources."""
    overlay = kustomization(OVERLAY)
    objects = {key(obj): obj for obj in base_objects()}
    for patch in overlay_patches():
        objects[key(patch)] = merge(objects[key(patch)], patch)
    rendered = [documents(OVERLAY / name)[0] for name in overlay["resources"] if not name.startswith("..")]
    for obj in objects.values():
        obj = merge(obj, {"metadata": {"namespace": overlay["namespace"]}})
        for container in all_containers(obj):
            for image in overlay.get("images", []):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image['name']}:{image['newTag']}"
        rendered.append(obj)
    return rendered


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def containers(obj: dict) -> list[dict]:
    spec = pod_spec(obj)
    return spec["containers"] if spec else []


def init_containers(obj: dict) -> list[dict]:
    spec = pod_spec(obj)
    return spec.get("initContainers", []) if spec else []


def all_containers(obj: dict) -> list[dict]:
    return containers(obj) + init_containers(obj)
