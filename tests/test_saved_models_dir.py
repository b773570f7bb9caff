"""The repo's `saved_models/` is what the stock TF Serving container is pointed at: every zoo model
is there, loads in TensorFlow's C++ loader (through the C API, tag `serve`, as TF Serving loads
it), answers its own warm-up requests like the shipped preset (`zoo.load`), and `models.config`
lists exactly those models.

If a preset is retrained, these tests fail until `saved_models/` is re-exported (README, "Serving").
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from zoo import registry
from zoo.serving import read_models_config, read_warmup_records
from zoo.serving.c_loader import CSavedModel
from zoo.serving.warmup import request_arrays

SAVED_MODELS = Path(__file__).resolve().parent.parent / "saved_models"


def _versions(name: str) -> list[int]:
    return sorted(int(p.name) for p in (SAVED_MODELS / name).iterdir() if p.name.isdigit())


def test_models_config_lists_every_zoo_model_under_the_container_mount():
    entries = read_models_config(SAVED_MODELS / "models.config")
    assert sorted(e.name for e in entries) == registry.list_models()
    for entry in entries:
        assert entry.base_path == f"/models/{entry.name}"
        assert _versions(entry.name), f"saved_models/{entry.name} holds no numeric version"


@pytest.mark.parametrize("name", registry.list_models())
def test_exported_version_answers_like_the_shipped_preset(name):
    export_dir = SAVED_MODELS / name / str(_versions(name)[-1])
    model = registry.load(name)
    records = read_warmup_records(export_dir)
    assert 0 < len(records) <= 1000
    with CSavedModel(export_dir, tags=("serve",)) as runner:
        expected_signatures = {"serving_default", *registry.get_preset(name).signatures}
        assert set(runner.signature_names) == expected_signatures
        for record in records:
            signature, inputs = request_arrays(record)
            assert record.predict_log.request.model_spec.name == name
            served = runner.run(inputs, signature)
            (batch,) = inputs.values()
            expected = model(batch, training=False)
            for key in runner.output_names(signature):
                want = keras.ops.convert_to_numpy(expected[key])
                if want.dtype.kind == "f":
                    np.testing.assert_allclose(served[key], want, rtol=1e-4, atol=1e-5)
                else:
                    np.testing.assert_array_equal(served[key], want)
