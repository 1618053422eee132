"""Tests of ``benchmarks/profile_training.py``: the grouping of a real profile's operations by layer
type and direction, the oneDNN log's sums, and the table. (No test asserts a speed.)"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def profiler(load_benchmark):
    return load_benchmark("profile_training")


@pytest.fixture(scope="module")
def small_profile(profiler):
    """The profile of 2 training steps of a small model with the notebook's layer types."""
    from test_utils import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(axis=3, name="bn")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    outputs = keras.layers.Dense(6, activation="softmax", name="dense")(keras.layers.Flatten(name="flat")(x))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    return profiler.profile_groups(model, steps=2)


def test_a_real_profile_is_grouped_by_layer_type_direction_optimizer_and_loss(small_profile):
    groups = small_profile["groups"]
    for group in (
        "Conv2D forward",
        "Conv2D backward",
        "BatchNormalization forward",
        "BatchNormalization backward",
        "Dense forward",
        "Dense backward",
        "optimizer",
        "loss",
    ):
        assert groups.get(group, 0.0) > 0.0, (group, groups)
    named = sum(ms for g, ms in groups.items() if g != "other")
    assert groups.get("other", 0.0) < named / 2, groups
    assert small_profile["steps"] == 2 and small_profile["wall_ms"] > 0


@pytest.mark.parametrize(
    ("scope", "op_type", "expected"),
    [
        ("StatefulPartitionedCall/functional_1/conv_1/BiasAdd", "_MklNativeFusedConv2D", "Conv2D forward"),
        (
            "StatefulPartitionedCall/gradient_tape/functional_1/conv_1/convolution/Conv2DBackpropFilter",
            "Conv2DBackpropFilter",
            "Conv2D backward",
        ),
        ("StatefulPartitionedCall/functional_1/bn_1/moments/mean", "Mean", "BatchNormalization forward"),
        ("StatefulPartitionedCall/adam/Sub_23", "Sub", "optimizer"),
        ("StatefulPartitionedCall/compile_loss/categorical_crossentropy/Sum", "Sum", "loss"),
        ("StatefulPartitionedCall/functional_1/conv_1/Cast", "Cast", "cast"),
        ("StatefulPartitionedCall/Add", "AddV2", "other"),
    ],
)
def test_group_of_names_the_layer_type_and_direction(profiler, scope, op_type, expected):
    layer_types = {"conv": "Conv2D", "bn": "BatchNormalization"}
    assert profiler.group_of(scope, op_type, layer_types) == expected


def test_onednn_totals_sums_exec_lines_per_primitive_and_step(profiler):
    log = "\n".join(
        [
            "onednn_verbose,v1,info,oneDNN v3.7.1",
            "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,forward_training,src:f32,,alg,mb32,3.0",
            "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_bwd_w:avx512_core,backward_weights,src:f32,,alg,mb32,5.0",
            "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32,,,1x2,0.5",
            "onednn_verbose,v1,primitive,create:cache_miss,cpu,convolution,brg_conv_fwd,forward_training,,,,99.0",
            "something else",
        ]
    )
    assert profiler.onednn_totals(log, steps=2) == {"convolution": 4.0, "reorder": 0.25}


def test_the_table_has_a_row_per_group_and_the_wall_time(profiler, small_profile):
    text = profiler.table({"a": small_profile, "b": {**small_profile, "onednn": {"convolution": 1.0}}})
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(small_profile["groups"]) + 1
    assert rows[-1].startswith("| wall per step")
    assert "oneDNN primitives, b (ms/step): convolution 1" in text
