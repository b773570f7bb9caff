"""`zoo quickstart`: the README's main job, end to end on a fresh machine.

1. load the pretrained `cnn_digits` (weights checked against the card's sha256) and score it on the
   held-out digits test split;
2. fine-tune it briefly on the bundled training split with the GradientTape `Trainer` (the backbone
   at a tenth of the head's learning rate), TensorBoard logs on;
3. export it as a versioned SavedModel for TensorFlow Serving (atomic, warm-up records, named
   signatures);
4. start `zoo serve` (TF Serving's REST API) in a child process on a free loopback port, send it a
   predict request in TF Serving's JSON, and check the answer against the in-process model.

Exits non-zero if any step fails or the served answer differs from the Keras model's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

MODEL_NAME = "cnn_digits"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="load a pretrained model, fine-tune it, export it and query it through `zoo serve`",
        description="The README quick start: load cnn_digits, fine-tune it with the Trainer on the "
        "bundled digits, export a SavedModel and answer a predict request through the local "
        "TF-Serving-compatible server.",
    )
    parser.add_argument(
        "--output",
        default="quickstart_output",
        help="folder for the SavedModel and TensorBoard logs (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=int, default=2, help="fine-tuning epochs (default: %(default)s)"
    )
    parser.set_defaults(func=run)


def _step(number: int, text: str) -> None:
    print(f"\n[{number}/4] {text}", flush=True)


def _request_json(url: str, body: dict | None = None) -> dict:
    """GET `url` (no body) or POST `body` as JSON; the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        print(f"zoo quickstart: `--epochs` must be >= 1. Received: {args.epochs}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    import zoo
    from zoo.data.digits import load_digits_split
    from zoo.models.cnn.evaluate import accuracy
    from zoo.models.common.classifier import HEAD_NAME, predict
    from zoo.registry import get_preset
    from zoo.serving.child_server import ChildServer
    from zoo.training import Trainer, backbone_head_optimizer

    output = Path(args.output).resolve()
    split = load_digits_split()

    _step(1, f"zoo.load({MODEL_NAME!r})")
    model = zoo.load(MODEL_NAME)
    card = zoo.info(MODEL_NAME)
    before = accuracy(model, split.x_test, split.y_test)
    print(f"  {card['summary']}")
    print(f"  test accuracy of the pretrained model: {before:.4f} on {len(split.y_test)} images")

    _step(2, f"fine-tune {args.epochs} epoch(s) with zoo.training.Trainer")
    optimizer = backbone_head_optimizer(
        model, head_from=HEAD_NAME, optimizer="adam", learning_rate=1e-4, backbone_factor=0.1
    )
    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        loss={"probabilities": "sparse_categorical_crossentropy"},
        metrics={"probabilities": ["accuracy"]},
        log_dir=output / "logs",
        seed=0,
    )
    history = trainer.fit(
        (split.x_train, {"probabilities": split.y_train}),
        epochs=args.epochs,
        batch_size=64,
        verbose=1,
    )
    after = accuracy(model, split.x_test, split.y_test)
    last = {key: round(values[-1], 4) for key, values in history.history.items()}
    print(f"  last epoch: {last}")
    print(f"  test accuracy after fine-tuning: {after:.4f}")
    print(f"  TensorBoard: tensorboard --logdir {output / 'logs'}")

    _step(3, "zoo.export: a versioned SavedModel for TensorFlow Serving")
    base_path = output / "saved_models" / MODEL_NAME
    exported = zoo.export(
        model,
        base_path,
        version=1,
        signatures=dict(get_preset(MODEL_NAME).signatures),
        warmup_inputs=split.x_test[:4],
        model_name=MODEL_NAME,
        overwrite=True,
    )
    print(f"  {exported}: {', '.join(sorted(p.name for p in exported.iterdir()))}")

    _step(4, "zoo serve + a predict request in TF Serving's REST JSON")
    images = split.x_test[:5]
    expected = predict(model, images)["class_id"]
    flags = [
        f"--model_name={MODEL_NAME}",
        f"--model_base_path={base_path}",
        "--file_system_poll_wait_seconds=0",
    ]
    with ChildServer(flags) as server:
        url = f"{server.rest_api}/v1/models/{MODEL_NAME}"
        try:
            status = _request_json(url)
            print(f"  GET  {url}\n       -> {json.dumps(status)}")
            body = {"signature_name": "serving_default", "instances": images.tolist()}
            answer = _request_json(f"{url}:predict", body)
        except OSError:  # urllib's errors: show what the server said
            print(server.log_text()[-3000:], file=sys.stderr)
            raise
    served = np.array([row["class_id"] for row in answer["predictions"]])
    confidence = [max(row["probabilities"]) for row in answer["predictions"]]
    print(f"  POST {url}:predict  (5 test images, 8x8 pixels 0..16)")
    print(f"       -> class_id {served.tolist()}")
    print(f"       max probability {[round(c, 3) for c in confidence]}")
    print(f"  true labels        {split.y_test[:5].tolist()}")
    print(f"  Keras model        {expected.tolist()}")
    if not np.array_equal(served, expected):
        print("zoo quickstart: the served answer differs from the Keras model's", file=sys.stderr)
        return 1
    zoo_command = Path(sys.executable).parent / "zoo"
    print(
        f"\nDone: the served model answers as the Keras model does.\n"
        f"Serve it yourself: {zoo_command} serve --model_name={MODEL_NAME} "
        f"--model_base_path={base_path}\n"
        f"or with the stock container: docker run -p 8501:8501 -v "
        f"{base_path}:/models/{MODEL_NAME} -e MODEL_NAME={MODEL_NAME} tensorflow/serving"
    )
    return 0
