"""`models.config`: TensorFlow Serving's ModelServerConfig in protobuf text format.

Written with the `tensorflow-serving-api` protos themselves, so the file is exactly what
`tensorflow_model_server --model_config_file=...` parses. A version policy is one of
`{"latest": N}`, `{"all": True}` or `{"specific": [v, ...]}` (the server's default is latest 1);
version labels map a name such as "stable" or "canary" to a version number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

CONFIG_FILE = "models.config"
# Where `docker run -v $PWD/saved_models:/models tensorflow/serving` mounts the base directory.
CONTAINER_BASE = "/models"

VersionPolicy = Mapping[str, Any]


@dataclass(frozen=True)
class ModelEntry:
    """One model of a config: its name, base path, version policy and labels."""

    name: str
    base_path: str
    policy: tuple[str, tuple[int, ...]] = ("latest", (1,))
    labels: Mapping[str, int] = field(default_factory=dict)


def _policy_tuple(policy: VersionPolicy | None) -> tuple[str, tuple[int, ...]]:
    if not policy:
        return ("latest", (1,))
    if len(policy) != 1 or next(iter(policy)) not in ("latest", "all", "specific"):
        raise ValueError(
            "`version_policy` must be one of {'latest': N}, {'all': True} or "
            f"{{'specific': [versions]}}. Received: {dict(policy)}"
        )
    kind, value = next(iter(policy.items()))
    if kind == "latest":
        if int(value) < 1:
            raise ValueError(f"`latest` must keep at least 1 version. Received: {value}")
        return ("latest", (int(value),))
    if kind == "all":
        return ("all", ())
    versions = tuple(sorted(int(v) for v in value))
    if not versions:
        raise ValueError("`specific` must list at least one version. Received: []")
    return ("specific", versions)


def model_dirs(base_dir: str | Path) -> list[str]:
    """Names of the sub-directories of `base_dir` that hold at least one numeric version."""
    base = Path(base_dir)
    return sorted(
        child.name
        for child in base.iterdir()
        if child.is_dir() and any(v.is_dir() and v.name.isdigit() for v in child.iterdir())
    )


def build_models_config(entries: Sequence[ModelEntry]) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    for entry in entries:
        model = config.model_config_list.config.add()
        model.name = entry.name
        model.base_path = entry.base_path
        model.model_platform = "tensorflow"
        kind, values = entry.policy
        if kind == "latest":
            model.model_version_policy.latest.num_versions = values[0]
        elif kind == "all":
            model.model_version_policy.all.SetInParent()
        else:
            model.model_version_policy.specific.versions.extend(values)
        for label, version in sorted(entry.labels.items()):
            model.version_labels[label] = int(version)
    return config


def write_models_config(
    base_dir: str | Path,
    *,
    models: Sequence[str] | None = None,
    version_policy: VersionPolicy | Mapping[str, VersionPolicy] | None = None,
    version_labels: Mapping[str, Mapping[str, int]] | None = None,
    base_path_prefix: str = CONTAINER_BASE,
    path: str | Path | None = None,
) -> Path:
    """Write `base_dir/models.config` for the models under `base_dir`; return its path.

    Args:
        base_dir: the directory that holds one `<model>/<version>/` tree per model.
        models: model names to list; default every sub-directory holding a numeric version.
        version_policy: one policy for all models (`{"latest": 2}`), or model name -> policy.
        version_labels: model name -> {label: version}.
        base_path_prefix: where the server sees `base_dir`: `/models` for the
            `-v $PWD/saved_models:/models` container mount; pass `str(base_dir.resolve())` for a
            server on this machine. (`zoo serve` also finds `/models/<name>` beside the config.)
        path: where to write; default `base_dir/models.config`.

    A model that `version_policy`/`version_labels` do not mention keeps the policy and labels it
    has in the existing file (so re-running after a new export never drops a hand-set label);
    pass `version_labels={"name": {}}` to clear them.
    """
    base = Path(base_dir)
    names = list(models) if models is not None else model_dirs(base)
    if not names:
        raise ValueError(f"`base_dir` must hold at least one exported model. Received: {base}")
    per_model = (
        version_policy
        if version_policy and not ({"latest", "all", "specific"} & set(version_policy))
        else dict.fromkeys(names, version_policy)
    )
    unknown = set(per_model) - set(names) | set(version_labels or {}) - set(names)
    if unknown:
        raise ValueError(
            f"`version_policy`/`version_labels` name models not listed: {sorted(unknown)}. "
            f"Models: {names}"
        )
    target = Path(path) if path is not None else base / CONFIG_FILE
    existing = {e.name: e for e in read_models_config(target)} if target.exists() else {}
    labels_given = version_labels or {}
    entries = []
    for name in names:
        old = existing.get(name)
        policy = per_model.get(name)
        entries.append(
            ModelEntry(
                name=name,
                base_path=f"{base_path_prefix.rstrip('/')}/{name}",
                policy=_policy_tuple(policy) if policy or old is None else old.policy,
                labels=dict(
                    labels_given[name] if name in labels_given else (old.labels if old else {})
                ),
            )
        )
    text = text_format.MessageToString(build_models_config(entries))
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    tmp.replace(target)  # atomic: a polling server never reads half a config
    return target


def read_models_config(path: str | Path) -> list[ModelEntry]:
    """Parse a `models.config` into `ModelEntry`s (base paths as written)."""
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(Path(path).read_text(), config)
    except text_format.ParseError as error:
        raise ValueError(
            f"`model_config_file` {path} is not a valid ModelServerConfig: {error}"
        ) from error
    entries = []
    for model in config.model_config_list.config:
        policy = model.model_version_policy
        which = policy.WhichOneof("policy_choice")
        if which == "all":
            parsed: tuple[str, tuple[int, ...]] = ("all", ())
        elif which == "specific":
            parsed = ("specific", tuple(sorted(policy.specific.versions)))
        elif which == "latest":
            parsed = ("latest", (max(1, policy.latest.num_versions),))
        else:
            parsed = ("latest", (1,))
        if model.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"Model '{model.name}': `model_platform` must be 'tensorflow'. "
                f"Received: {model.model_platform!r}"
            )
        entries.append(
            ModelEntry(
                name=model.name,
                base_path=model.base_path,
                policy=parsed,
                labels=dict(model.version_labels),
            )
        )
    return entries
