"""`zoo list | info | evaluate | predict | fine-tune | plot | train` on the shipped presets."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo.registry as registry
from zoo.cli import main
from zoo.data import digits as digits_data
from zoo.data import kdd_tsad
from zoo.models.anomaly import model as anomaly


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _digits_csv(path, images, labels, label_column="digit"):
    header = ",".join(f"px{i}" for i in range(64)) + f",{label_column}"
    rows = [
        ",".join(str(int(v)) for v in image.ravel()) + f",{label}"
        for image, label in zip(images, labels, strict=True)
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_console_script_offers_the_zoo_commands():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("list", "info", "train", "evaluate", "fine-tune", "predict", "plot"):
        assert command in done.stdout


def test_list_prints_a_table(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["name", "task", "pretrained"]
    assert [line.split()[0] for line in lines[1:]] == registry.list_models()


def test_list_json_and_info(capsys):
    code, out, _ = _run(capsys, "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["name"] for r in rows} == set(registry.list_models())
    code, out, _ = _run(capsys, "info", "cnn_digits")
    assert code == 0
    assert json.loads(out) == registry.info("cnn_digits")


def test_unknown_model_is_a_clear_error(capsys):
    code, _, err = _run(capsys, "info", "nope")
    assert code == 2
    assert "Unknown model 'nope'. Choose one of:" in err and "cnn_digits" in err


def test_evaluate_recomputes_the_card(capsys):
    code, out, _ = _run(capsys, "evaluate", "cnn_digits", "--json")
    assert code == 0
    result = json.loads(out)
    card = registry.info("cnn_digits")
    assert result["test_accuracy"] == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-4)
    for name, accuracy in card["baselines"].items():
        assert result["baselines"][name] == pytest.approx(accuracy, abs=1e-4)


def test_predict_images_from_npy_and_csv(capsys, tmp_path):
    split = digits_data.load_digits_split()
    images, labels = split.x_test[:20, ..., 0], split.y_test[:20]
    np.save(tmp_path / "images.npy", images)
    code, out, _ = _run(capsys, "predict", "cnn_digits", "--input", str(tmp_path / "images.npy"))
    assert code == 0
    from_npy = json.loads(out)
    assert np.mean(np.array(from_npy["class_id"]) == labels) >= 0.95
    csv = _digits_csv(tmp_path / "images.csv", images, labels, label_column="label")
    out_file = tmp_path / "pred.npz"
    code, _, _ = _run(
        capsys, "predict", "cnn_digits", "--input", str(csv), "--output", str(out_file)
    )
    assert code == 0
    np.testing.assert_array_equal(np.load(out_file)["class_id"], from_npy["class_id"])


def test_predict_series_needs_its_column(capsys, tmp_path):
    split = kdd_tsad.load_ucr135()
    csv = tmp_path / "hr.csv"
    csv.write_text("t,hr\n" + "\n".join(f"{i},{v}" for i, v in enumerate(split.series[4100:4300])))
    code, _, err = _run(capsys, "predict", "anomaly_ucr135", "--input", str(csv), "--column", "bpm")
    assert code == 2
    assert "`column`" in err and "'bpm'" in err and "'hr'" in err
    code, _, err = _run(capsys, "predict", "anomaly_ucr135", "--input", str(csv))
    assert code == 2 and "`--column` is required" in err
    out_file = tmp_path / "scores.json"
    code, _, _ = _run(
        capsys, "predict", "anomaly_ucr135", "--input", str(csv), "--column", "hr",
        "--output", str(out_file),
    )  # fmt: skip
    assert code == 0
    scores = json.loads(out_file.read_text())
    assert len(scores["point_score"]) == 200
    # the labelled anomaly (points 4187..4198) is where this slice scores highest
    assert 4187 - 100 <= 4100 + int(np.argmax(scores["point_score"])) <= 4198 + 100


def test_nan_in_the_csv_is_a_clear_error(capsys, tmp_path):
    csv = tmp_path / "gap.csv"
    csv.write_text("hr\n" + "\n".join(["70"] * 40 + ["nan"] + ["71"] * 10) + "\n")
    code, _, err = _run(capsys, "predict", "anomaly_ucr135", "--input", str(csv), "--column", "hr")
    assert code == 2
    assert "must hold finite numbers" in err and "data row 41" in err


def test_fine_tune_detector_on_a_csv(capsys, tmp_path):
    split = kdd_tsad.load_ucr135()
    csv = tmp_path / "normal.csv"
    csv.write_text("value\n" + "\n".join(str(v) for v in split.train[:200]) + "\n")
    output = tmp_path / "tuned.keras"
    code, _, _ = _run(
        capsys, "fine-tune", "anomaly_ucr135", "--csv", str(csv), "--column", "value",
        "--epochs", "1", "--percentile", "100", "--output", str(output), "--quiet",
    )  # fmt: skip
    assert code == 0 and output.exists()
    tuned = keras.saving.load_model(output)
    # the threshold is set on the held-out last 20 % of the normal data (40 points, 9 windows):
    # percentile 100 of the point scores, each the lowest window covering the point
    windows = anomaly.windows_of(split.train[160:200], 32)
    scores = tuned.predict(windows, verbose=0)["score"]
    points = [min(scores[max(0, i - 31) : min(i, 8) + 1]) for i in range(40)]
    # batch sizes differ between calibration and this predict: float32 sums in another order
    assert anomaly.get_threshold(tuned) == pytest.approx(max(points), rel=1e-4)
    assert (tmp_path / "tuned.keras.run" / "checkpoints" / "fine_tune" / "checkpoint").exists()


def test_fine_tune_cnn_new_class_count(capsys, tmp_path):
    split = digits_data.load_digits_split()
    keep = split.y_train < 3
    csv = _digits_csv(
        tmp_path / "abc.csv", split.x_train[keep][:60, ..., 0], split.y_train[keep][:60]
    )
    output = tmp_path / "abc.keras"
    code, _, _ = _run(
        capsys, "fine-tune", "cnn_digits", "--csv", str(csv), "--column", "digit",
        "--num-classes", "3", "--epochs", "1", "--output", str(output), "--quiet",
    )  # fmt: skip
    assert code == 0
    tuned = keras.saving.load_model(output)
    assert tuned.output["probabilities"].shape[-1] == 3
    code, _, err = _run(
        capsys, "fine-tune", "cnn_digits", "--csv", str(csv), "--column", "label",
        "--output", str(output),
    )  # fmt: skip
    assert code == 2 and "'label'" in err and "'digit'" in err
    code, _, err = _run(
        capsys, "fine-tune", "cnn_digits", "--csv", str(csv), "--column", "digit",
        "--horizon", "5",
    )  # fmt: skip
    assert code == 2 and "`--horizon` does not apply to cnn_digits" in err
    code, _, err = _run(
        capsys, "fine-tune", "cnn_digits", "--csv", str(csv), "--column", "digit",
        "--period", "12",
    )  # fmt: skip
    assert code == 2 and "`--period` does not apply to cnn_digits" in err


def test_plot_writes_png(capsys, tmp_path):
    output = tmp_path / "cm.png"
    code, _, _ = _run(capsys, "plot", "cnn_digits", "--output", str(output))
    assert code == 0
    assert output.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_train_writes_a_preset_folder(capsys, tmp_path):
    code, out, _ = _run(capsys, "train", "cnn_digits", "--output-dir", str(tmp_path), "--quiet")
    assert code == 0
    assert json.loads(out)["test_accuracy"] >= 0.99
    files = {p.name for p in tmp_path.iterdir()}
    assert files >= {"card.json", "config.json", "model.weights.h5", "SHA256SUMS", "run.json"}
    assert {"checkpoints", "logs"} <= files
