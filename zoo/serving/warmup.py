"""Warm-up records: `assets.extra/tf_serving_warmup_requests`, as TensorFlow Serving reads them.

The file is a TFRecord of `PredictionLog` protos, each holding a `PredictRequest`. TF Serving
replays them once when it loads a version, before marking it AVAILABLE, so the first real
request does not pay for graph initialisation. At most 1000 records (the server's own limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000


def warmup_path(export_dir: str | Path) -> Path:
    return Path(export_dir) / WARMUP_DIR / WARMUP_FILE


def make_predict_log(
    model_name: str, signature_name: str, inputs: Mapping[str, np.ndarray]
) -> prediction_log_pb2.PredictionLog:
    """One `PredictionLog` whose `PredictRequest` carries `inputs` as TensorProtos."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def write_warmup_records(
    export_dir: str | Path, records: Iterable[prediction_log_pb2.PredictionLog]
) -> Path:
    """Write `records` to `export_dir/assets.extra/tf_serving_warmup_requests`."""
    records = list(records)
    if not records:
        raise ValueError("`records` must hold at least one PredictionLog. Received: none")
    if len(records) > MAX_WARMUP_RECORDS:
        raise ValueError(
            f"`records` must hold at most {MAX_WARMUP_RECORDS} warm-up requests (TF Serving's "
            f"limit). Received: {len(records)}"
        )
    path = warmup_path(export_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    return path


def read_warmup_records(export_dir: str | Path) -> list[prediction_log_pb2.PredictionLog]:
    """The warm-up `PredictionLog`s of `export_dir` ([] when it has none)."""
    path = warmup_path(export_dir)
    if not path.exists():
        return []
    records = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw)
        records.append(log)
        if len(records) > MAX_WARMUP_RECORDS:
            raise ValueError(
                f"{path} holds more than {MAX_WARMUP_RECORDS} warm-up records; TF Serving "
                "refuses to load such a version."
            )
    return records


def request_arrays(log: prediction_log_pb2.PredictionLog) -> tuple[str, dict[str, np.ndarray]]:
    """(signature name, input name -> array) of a `PredictionLog` holding a predict request."""
    if log.WhichOneof("log_type") != "predict_log":
        raise ValueError(
            "Only predict warm-up requests are supported. Received a "
            f"{log.WhichOneof('log_type')} record"
        )
    request = log.predict_log.request
    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    return request.model_spec.signature_name or "serving_default", inputs
