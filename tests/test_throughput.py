"""Tests of the training-throughput benchmark, ``benchmarks/throughput.py``.

The PyTorch peer must be the same network as the notebook's ResNet50: same parameter count, and
the same outputs when it is given the Keras model's weights. The command itself runs on a few
images to show that it runs every framework and prints its table.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from resnets_kit import REPO_ROOT
from resnets_kit.solution import load_solution

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import throughput  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

try:
    import torch
except ModuleNotFoundError:  # a benchmark-only package: make bench-setup installs it
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None,
    reason="PyTorch is not installed: make bench-setup (pip install -r benchmarks/requirements.txt)",
)


@pytest.fixture(scope="module")
def keras_ours():
    return load_solution()["ResNet50"](input_shape=(64, 64, 3), classes=6)


def _creation_order(layer) -> int:
    """Keras names layers conv2d, conv2d_1, conv2d_2, ... in the order it creates them."""
    suffix = layer.name.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def _copy_weights(keras_model, torch_model) -> int:
    """Copy the Keras model's weights into the PyTorch peer, kind by kind in creation order (the
    order in which the peer's modules are declared); return how many layers were copied."""
    import keras

    pairs = []
    for k_kind, t_kind in (
        (keras.layers.Conv2D, torch.nn.Conv2d),
        (keras.layers.BatchNormalization, torch.nn.BatchNorm2d),
        (keras.layers.Dense, torch.nn.Linear),
    ):
        k_layers = sorted((x for x in keras_model.layers if isinstance(x, k_kind)), key=_creation_order)
        t_layers = [m for m in torch_model.modules() if isinstance(m, t_kind)]
        assert len(k_layers) == len(t_layers), k_kind.__name__
        pairs += zip(k_layers, t_layers, strict=True)
    with torch.no_grad():
        for k, t in pairs:
            weights = [np.asarray(w) for w in k.get_weights()]
            if isinstance(t, torch.nn.Conv2d):
                kernel, bias = weights
                assert kernel.transpose(3, 2, 0, 1).shape == tuple(t.weight.shape), k.name
                t.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
                t.bias.copy_(torch.from_numpy(bias))
            elif isinstance(t, torch.nn.BatchNorm2d):
                gamma, beta, mean, var = weights
                assert gamma.shape == tuple(t.weight.shape), k.name
                for dst, src in (
                    (t.weight, gamma),
                    (t.bias, beta),
                    (t.running_mean, mean),
                    (t.running_var, var),
                ):
                    dst.copy_(torch.from_numpy(src))
            else:
                kernel, bias = weights
                t.weight.copy_(torch.from_numpy(kernel.T))
                t.bias.copy_(torch.from_numpy(bias))
    return len(pairs)


@needs_torch
def test_torch_peer_has_our_parameter_count(keras_ours):
    import keras

    apps = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)
    peer = throughput.torch_resnet50()
    assert throughput.torch_parameter_count(peer) == keras_ours.count_params() == apps.count_params()


@needs_torch
def test_torch_peer_computes_what_ours_computes(keras_ours):
    rng = np.random.default_rng(0)
    x = rng.random((3, 64, 64, 3), dtype=np.float32)
    ours = keras_ours
    # moving statistics away from 0/1, so that BatchNorm's inference mode is really compared
    for layer in ours.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [gamma, beta + 0.1, mean + rng.normal(0, 0.1, mean.shape).astype(np.float32), var * 1.5]
            )
    peer = throughput.torch_resnet50().eval()
    assert _copy_weights(ours, peer) == 53 + 53 + 1
    want = np.asarray(ours(x, training=False))
    with torch.no_grad():
        logits = peer(torch.from_numpy(x).permute(0, 3, 1, 2))
    got = torch.softmax(logits, dim=1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(want, want[:1])  # different images, different outputs


def test_summary_ratio_is_paired_per_repeat():
    def run(variant, repeat, epoch):
        return {
            "variant": variant,
            "repeat": repeat,
            "n_train": 120,
            "epoch_s": [epoch],
            "first_step_s": 2.0,
            "params": 5,
        }

    runs = [run("keras_apps", 0, 10.0), run("ours", 0, 9.0), run("keras_apps", 1, 20.0), run("ours", 1, 30.0)]
    runs += [run("keras_apps", 2, 40.0), run("ours", 2, 44.0)]
    table = throughput.summarize(runs)
    # paired ratios 0.9, 1.5, 1.1 -> 1.10 (the unpaired medians would give 30 / 20 = 1.50)
    assert "| ours | 3 | 30.0 (9.0-44.0) | 4 | 2.0 | 1.10 | 5 |" in table
    assert "| keras_apps | 3 | 20.0 (10.0-40.0) | 6 | 2.0 | 1.00 | 5 |" in table


@needs_torch
@pytest.mark.slow
def test_command_runs_each_framework(tmp_path):
    out = tmp_path / "runs.json"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/throughput.py",
            "--variants",
            "ours,ours_prebuilt,torch",
            "--repeats",
            "1",
        ]
        + ["--n-train", "8", "--json-out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| ours | 1 |" in done.stdout and "| torch | 1 |" in done.stdout
    runs = json.loads(out.read_text())
    assert {run["variant"] for run in runs} == {"ours", "ours_prebuilt", "torch"}
    assert len({run["params"] for run in runs}) == 1
    assert all(len(run["loss"]) == 2 and np.isfinite(run["loss"]).all() for run in runs)


def test_unknown_variant_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        throughput.main(["--variants", "ours,tpu"])
    assert info.value.code == 2
    assert "unknown variants ['tpu']" in capsys.readouterr().err
