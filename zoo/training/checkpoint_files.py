"""What is on disk in a checkpoint folder, and what is wrong with it.

`tf.train.CheckpointManager` keeps a text state file, `<dir>/checkpoint`, listing its
checkpoints (`model_checkpoint_path: "ckpt-12"` is the newest); each checkpoint is an index file
`ckpt-12.index` and data shards `ckpt-12.data-00000-of-00001`. TensorFlow ignores a state file it
cannot parse (it logs a warning and sees no checkpoint), which would restart a run from scratch and
overwrite the old checkpoints. These functions check the files instead and describe the first
problem they find in a sentence that names the file.
"""

from __future__ import annotations

import glob
import os
import re

import tensorflow as tf

STATE_FILE = "checkpoint"

_STRING_KEYS = ("model_checkpoint_path", "all_model_checkpoint_paths")
_NUMBER_KEYS = ("all_model_checkpoint_timestamps", "last_preserved_timestamp")
_LINE = re.compile(r'^(\w+)\s*:\s*(".*"|[-+0-9.eE]+)$')


class CheckpointState:
    """The parsed state file: the newest checkpoint and all listed ones, as full prefixes."""

    def __init__(self, latest: str, listed: list[str]) -> None:
        self.latest = latest
        self.listed = listed


def _absolute(directory: str, prefix: str) -> str:
    return prefix if os.path.isabs(prefix) else os.path.join(directory, prefix)


def read_state(directory: str) -> tuple[CheckpointState | None, str | None]:
    """`(state, None)`, `(None, None)` when there is no state file, or `(None, problem)`."""
    path = os.path.join(directory, STATE_FILE)
    if not os.path.exists(path):
        return None, None
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"The checkpoint state file {path} is not text (binary or corrupt bytes)."
    if not text.strip():
        return None, f"The checkpoint state file {path} is empty."
    latest, listed = None, []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _LINE.match(line)
        key = match.group(1) if match else None
        is_string = match is not None and match.group(2).startswith('"')
        if key not in _STRING_KEYS + _NUMBER_KEYS or is_string != (key in _STRING_KEYS):
            return None, (
                f"The checkpoint state file {path} is damaged: line {number} is not an entry "
                f"TensorFlow writes there. Received: {line[:80]!r}."
            )
        if key == "model_checkpoint_path":
            latest = _absolute(directory, match.group(2)[1:-1])
        elif key == "all_model_checkpoint_paths":
            listed.append(_absolute(directory, match.group(2)[1:-1]))
    if latest is None:
        return None, (
            f"The checkpoint state file {path} is damaged: it names no newest checkpoint "
            "(no `model_checkpoint_path` line)."
        )
    return CheckpointState(latest, listed or [latest]), None


def checkpoints_on_disk(directory: str) -> list[str]:
    """Prefixes of the `*.index` files in `directory`, oldest number first."""

    def number(prefix: str) -> tuple[int, str]:
        tail = prefix.rsplit("-", 1)[-1]
        return (int(tail), prefix) if tail.isdigit() else (-1, prefix)

    prefixes = [path[: -len(".index")] for path in glob.glob(os.path.join(directory, "*.index"))]
    return sorted(prefixes, key=number)


def damage(prefix: str) -> str | None:
    """What is wrong with checkpoint `prefix` (a sentence naming the file), or None.

    Reads the index and every tensor of the data shards: TensorFlow checks each tensor's CRC32C
    checksum as it reads it, so a truncated or corrupted shard shows here.
    """
    index = prefix + ".index"
    if not os.path.exists(index):
        return f"The checkpoint index file {index} is missing."
    shards = sorted(glob.glob(glob.escape(prefix) + ".data-?????-of-?????"))
    if not shards:
        return f"The checkpoint data file {prefix}.data-00000-of-00001 is missing."
    expected = int(shards[0].rsplit("-of-", 1)[1])
    wanted = [f"{prefix}.data-{i:05d}-of-{expected:05d}" for i in range(expected)]
    missing = [path for path in wanted if not os.path.exists(path)]
    if missing:
        return f"The checkpoint data file {missing[0]} is missing."
    # Any exception from TensorFlow's reader means the bytes are not what it wrote: it raises
    # OpErrors (DataLoss, OutOfRange, ...), but also IndexError on a short read.
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as err:
        return f"The checkpoint index file {index} cannot be read: {_first_line(err)}."
    try:
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except Exception as err:
        names = ", ".join(wanted)
        return (
            f"The checkpoint data file {names} is damaged (truncated or corrupt): "
            f"{_first_line(err)}."
        )
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300].rstrip(".")
