"""A catalogue of typical mistakes in the three graded functions, and the message that catches each.

Each :class:`Mistake` is a small edit of the reference solution (the graded cell of the source
notebook, edited as text by :func:`resnets_kit.solution.load_solution`) that reproduces a mistake
students really make, with the texts that the failure message must contain to name it. The
public test of the function must fail with that message; a mistake that the public cases cannot
see by design (a value hard-coded to the public case) must fail the hidden test instead.

``python -m qa.mutation_score`` runs the whole catalogue and prints which message caught
each mistake; ``tests/test_mistakes.py`` requires every one of them to be caught.
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass

from resnets_kit.solution import load_solution

#: Which test catches a mistake.
KINDS = ("public", "hidden")


@dataclass(frozen=True)
class Mistake:
    """One typical mistake, as an edit of the reference solution.

    Attributes:
        name: a short name, unique in the catalogue.
        function: the graded function whose notebook cell is edited: ``"identity_block"``,
            ``"convolutional_block"`` or ``"ResNet50"``.
        edits: ``((old, new), ...)``, text replacements of that cell, applied in order (every
            occurrence of ``old`` is replaced, as :func:`~resnets_kit.solution.load_solution` does).
        expect: texts that the failure message must contain.
        caught_by: ``"public"`` (the public test of the function fails) or ``"hidden"`` (the
            public test passes by design and the hidden test fails).
        origin: where students make this mistake: a public URL or a short note.
    """

    name: str
    function: str
    edits: tuple[tuple[str, str], ...]
    expect: tuple[str, ...]
    caught_by: str = "public"
    origin: str = ""


# ---------------------------------------------------------------------------------------------
# Lines of the reference solution that the edits change (as written in the notebook's cells)
# ---------------------------------------------------------------------------------------------

_INIT = "kernel_initializer=initializer(seed=0)"
#: The f x f convolution of both blocks.
ID_CONV2 = f"X = Conv2D(filters=F2, kernel_size=f, strides=(1, 1), padding='same', {_INIT})(X)"
#: The last 1x1 convolution of the main path of both blocks.
CONV3 = f"X = Conv2D(filters=F3, kernel_size=1, strides=(1, 1), padding='valid', {_INIT})(X)"
#: The end of the first convolution of the convolutional block (the stride s is there).
CB_CONV1 = f"strides=(s, s), padding='valid', {_INIT})(X)\n"
#: The shortcut convolution of the convolutional block.
CB_SHORTCUT = (
    f"X_shortcut = Conv2D(filters=F3, kernel_size=1, strides=(s, s), padding='valid', {_INIT})(X_shortcut)"
)
#: The Add and the final ReLU of both blocks.
ID_RELU_TAIL = "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)"
_BN = "X = BatchNormalization(axis=3)(X, training=training)"
_BN2 = f"    {_BN}\n    X = Activation('relu')(X)\n\n    ## Third"
_BN3 = f"    {_BN}\n\n    ## "
_TOP = "X = Dense(classes, activation='softmax', kernel_initializer=glorot_uniform(seed=0))(X)"

_COURSE = "classic course (Coursera DLS C4W2 'Residual Networks')"

CATALOGUE: tuple[Mistake, ...] = (
    # ----------------------------------------------------------------------------- identity_block
    Mistake(
        "final ReLU missing",
        "identity_block",
        ((ID_RELU_TAIL, "    X = Add()([X, X_shortcut])"),),
        (
            "'layers'",
            "final ReLU after the Add",
            "expected: 3 Activation layers",
            "received: 2 Activation layers",
        ),
        origin=f"{_COURSE}: its 2021 test had a message of its own for it; "
        "https://github.com/ajbrock/BoilerPlate/issues/2",
    ),
    Mistake(
        "ReLU before the Add",
        "identity_block",
        (
            (
                f"    {_BN}\n\n    ## Final step: add the shortcut to the main path, then ReLU\n"
                + ID_RELU_TAIL,
                f"    {_BN}\n    X = Activation('relu')(X)\n    X = Add()([X, X_shortcut])",
            ),
        ),
        ("'order of the layers'", "layer 9 (Add (main path + shortcut))", "no ReLU in between"),
        origin="https://github.com/akamaster/pytorch_resnet_cifar10/issues/23",
    ),
    Mistake(
        "an extra ReLU before the Add",
        "identity_block",
        (
            (
                "    X = Add()([X, X_shortcut])\n",
                "    X = Activation('relu')(X)\n    X = Add()([X, X_shortcut])\n",
            ),
        ),
        ("'layers'", "layer 9: Activation", "ReLU on the main path just before the Add", "third component"),
        origin="https://github.com/kuangliu/pytorch-cifar/issues/4",
    ),
    Mistake(
        "BatchNorm called without training=training",
        "identity_block",
        (("(X, training=training)", "(X)"),),
        (
            "'layer settings: training'",
            "main path component 1: BatchNorm",
            "received: training='not passed'",
            "without the training argument",
        ),
        origin=f"{_COURSE}: every BatchNorm of the block called as BatchNormalization(axis=3)(X); "
        "passes training=False, fails 'Wrong values with training=True'",
    ),
    Mistake(
        "BatchNorm on the wrong axis",
        "identity_block",
        ((_BN3 + "Final", _BN3.replace("axis=3", "axis=1") + "Final"),),
        ("'layer settings: axis'", "main path component 3: BatchNorm", "channels axis"),
        origin="https://github.com/DCASE-REPO/dcase2018_baseline/issues/18",
    ),
    Mistake(
        "BatchNorm missing in the main path",
        "identity_block",
        ((_BN3 + "Final", "\n    ## Final"),),
        (
            "'layers'",
            "expected: 3 BatchNormalization layers",
            "main path component 3: CONV2D 1x1 (F3) is not followed by a BatchNorm",
            "each CONV2D of the main path",
        ),
        origin=f"{_COURSE}: 'Wrong values with training=False'; "
        "https://github.com/FlorianMuellerklein/Identity-Mapping-ResNet-Lasagne/issues/4",
    ),
    Mistake(
        "shortcut added from the main-path tensor",
        "identity_block",
        (("Add()([X, X_shortcut])", "Add()([X, X])"),),
        ("'layer settings: inputs'", "Add (main path + shortcut)", "expected: inputs=[8, 0]", "both inputs"),
        origin=f"{_COURSE}: Add()([X, X]) fails 'Check the padding and strides'",
    ),
    Mistake(
        "shortcut never added",
        "identity_block",
        ((ID_RELU_TAIL, "    X = Activation('relu')(X)"),),
        ("'layers'", "expected: 1 Add layers", "received: 0 Add layers", "add the shortcut to the main path"),
        origin=f"{_COURSE}: no Add at all fails 'Check the padding and strides'",
    ),
    Mistake(
        "hard-coded kernel size",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("kernel_size=f", "kernel_size=3")),),
        ("'layer settings: kernel_size'", "main path component 2", "kernel_size=(f, f)"),
        origin=f"{_COURSE}: kernel 3 instead of f fails 'Check the padding and strides'",
    ),
    Mistake(
        "kernel size hard-coded to the first case's f",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("kernel_size=f", "kernel_size=2")),),
        ("'layer settings: kernel_size'", "for the case f=3", "kernel_size=(f, f)"),
        origin="a solution fitted to the first test case: the notebook shows f=2 first",
    ),
    Mistake(
        "middle convolution with padding 'valid'",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("'same'", "'valid'")),),
        ("incompatible shapes", "shrank by f - 1", "padding='same'"),
        origin=f"{_COURSE}: ValueError at the Add, shapes (3, 3, 3) and (4, 4, 3)",
    ),
    Mistake(
        "stride 2 in the identity block",
        "identity_block",
        (
            (
                f"X = Conv2D(filters=F1, kernel_size=1, strides=(1, 1), padding='valid', {_INIT})(X)",
                f"X = Conv2D(filters=F1, kernel_size=1, strides=(2, 2), padding='valid', {_INIT})(X)",
            ),
        ),
        ("incompatible shapes", "every convolution of an identity block has stride 1"),
        origin=f"{_COURSE}: ValueError at the Add, shapes (2, 2, 3) and (4, 4, 3)",
    ),
    Mistake(
        "third convolution with an f x f kernel",
        "identity_block",
        ((CONV3, ID_CONV2.replace("F2", "F3")),),
        ("'layer settings: kernel_size'", "main path component 3", "the third component is a 1x1"),
        origin="the component-2 line copied for component 3 (classic course; "
        "a first convolution with kernel f fails 'Wrong values with training=False')",
    ),
    Mistake(
        "F1 and F2 swapped",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("filters=F2", "filters=F1")),),
        ("'layer settings: filters'", "are F2 and F1 swapped?"),
        origin=f"{_COURSE}: not detected by its 2021 public tests",
    ),
    Mistake(
        "initializer passed uncalled",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("initializer(seed=0)", "initializer")),),
        ("'layer settings: initializer'", "expected: initializer='RandomUniform(seed=0)'", "without seed=0"),
        origin=f"{_COURSE}: TypeError 'unexpected keyword argument dtype'; "
        "https://github.com/sorenbouma/keras-oneshot/issues/20",
    ),
    Mistake(
        "initializer hard-coded",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("initializer(seed=0)", "random_uniform(seed=0)")),),
        ("'layer settings: initializer'", "constant initializer", "a fixed initializer"),
        origin=f"{_COURSE}: hard-coded random_uniform(seed=0) fails 'Check the padding and strides'",
    ),
    Mistake(
        "initializer ignored (Keras's default)",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace(f", {_INIT}", "")),),
        (
            "'layer settings: initializer'",
            "received: initializer='GlorotUniform(seed=None)'",
            "Keras's default",
        ),
        origin="https://github.com/blue-oil/blueoil/issues/362",
    ),
    # ------------------------------------------------------------------------ convolutional_block
    Mistake(
        "stride on the 3x3 convolution",
        "convolutional_block",
        (
            (CB_CONV1, CB_CONV1.replace("(s, s)", "(1, 1)")),
            ("filters=F2, kernel_size=f, strides=(1, 1)", "filters=F2, kernel_size=f, strides=(s, s)"),
        ),
        (
            "'layer settings: strides'",
            "main path component 1",
            "expected: strides=[2, 2]",
            "first 1x1 convolution",
        ),
        origin=f"{_COURSE}: shape right, 'Wrong values when training=False'; "
        "https://github.com/keras-team/keras-applications/issues/81",
    ),
    Mistake(
        "stride on both convolutions of the main path",
        "convolutional_block",
        (("filters=F2, kernel_size=f, strides=(1, 1)", "filters=F2, kernel_size=f, strides=(s, s)"),),
        (
            "'layer settings: strides'",
            "main path component 2",
            "expected: strides=[1, 1]",
            "carry the stride s",
        ),
        origin="https://github.com/ageron/handson-ml2/issues/96; https://github.com/keon/3-min-pytorch/issues/29",
    ),
    Mistake(
        "shortcut missing its stride",
        "convolutional_block",
        ((CB_SHORTCUT, CB_SHORTCUT.replace("(s, s)", "(1, 1)")),),
        ("incompatible shapes", "the shortcut comes out with height and width (4, 4)", "stride s as well"),
        origin=f"{_COURSE}: ValueError at the Add, shapes (2, 2, 6) and (4, 4, 6)",
    ),
    Mistake(
        "shortcut with F1 filters",
        "convolutional_block",
        (("X_shortcut = Conv2D(filters=F3,", "X_shortcut = Conv2D(filters=F1,"),),
        ("incompatible shapes", "the shortcut ends with 2 channels", "F3 = 6"),
        origin=f"{_COURSE}: ValueError at the Add, shapes (2, 2, 6) and (2, 2, 2)",
    ),
    Mistake(
        "main path ending with F2 filters",
        "convolutional_block",
        ((CONV3, CONV3.replace("filters=F3", "filters=F2")),),
        ("incompatible shapes", "the main path ends with 4 channels", "F3 = 6", "last CONV2D"),
        origin="the component-2 line copied for component 3 without changing F2",
    ),
    Mistake(
        "shortcut convolution with an f x f kernel",
        "convolutional_block",
        ((CB_SHORTCUT, CB_SHORTCUT.replace("kernel_size=1", "kernel_size=f")),),
        ("'layer settings: kernel_size'", "shortcut: CONV2D 1x1", "the shortcut convolution is 1x1"),
        origin="https://github.com/apache/mxnet/issues/2354",
    ),
    Mistake(
        "shortcut without BatchNorm",
        "convolutional_block",
        (("    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n", ""),),
        (
            "'layers'",
            "expected: 4 BatchNormalization layers",
            "received: 3",
            "shortcut: CONV2D 1x1, stride s (F3) is not followed by a BatchNorm",
            "the shortcut CONV2D is followed by a BatchNormalization",
        ),
        origin="https://github.com/raghakot/keras-resnet/issues/12",
    ),
    Mistake(
        "BatchNorm missing after the f x f convolution",
        "convolutional_block",
        ((_BN2, "    X = Activation('relu')(X)\n\n    ## Third"),),
        (
            "'layers'",
            "expected: 4 BatchNormalization layers",
            "main path component 2: CONV2D f x f",
            "each CONV2D of the main path",
        ),
        origin="https://github.com/FlorianMuellerklein/Identity-Mapping-ResNet-Lasagne/issues/4",
    ),
    Mistake(
        "BatchNorm with training=True hard-coded",
        "convolutional_block",
        ((_BN2, _BN2.replace("training=training", "training=True")),),
        (
            "'layer settings: training'",
            "main path component 2: BatchNorm",
            "received: training=True",
            "hard-coded",
        ),
        origin="https://community.deeplearning.ai/t/keras-predict-giving-different-results-depending-on-how-used/87440",
    ),
    Mistake(
        "BatchNorm with another momentum",
        "convolutional_block",
        (
            (
                "    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)",
                "    X_shortcut = BatchNormalization(axis=3, momentum=0.9)(X_shortcut, training=training)",
            ),
        ),
        ("'layer settings: momentum'", "shortcut: BatchNorm", "default momentum"),
        origin="momentum 0.9 copied from other ResNet code (the course's v3.0 shipped a BatchNorm with 0.90)",
    ),
    Mistake(
        "ReLU missing after the second component",
        "convolutional_block",
        ((_BN2, f"    {_BN}\n\n    ## Third"),),
        ("'layers'", "expected: 3 Activation layers", "main path component 2: ReLU", "first two components"),
        origin="one of the main path's two ReLUs forgotten while retyping a component",
    ),
    Mistake(
        "ReLU on the shortcut",
        "convolutional_block",
        (
            (
                "    X = Add()([X, X_shortcut])\n",
                "    X_shortcut = Activation('relu')(X_shortcut)\n    X = Add()([X, X_shortcut])\n",
            ),
        ),
        ("'layers'", "one activation too many", "ReLU on the shortcut", "no activation"),
        origin="https://github.com/locuslab/TCN/issues/34",
    ),
    Mistake(
        "convolutional block shortcut taken after the main path",
        "convolutional_block",
        ((f"padding='valid', {_INIT})(X_shortcut)", f"padding='valid', {_INIT})(X)"),),
        ("'order of the layers'", "shortcut: CONV2D 1x1", "takes the block's input (X_shortcut"),
        origin=f"{_COURSE}: shortcut from the main-path X fails 'Wrong values when training=False'",
    ),
    Mistake(
        "training passed positionally to BatchNorm",
        "identity_block",
        ((_BN2, _BN2.replace("(X, training=training)", "(X, training)")),),
        ("runs", "Only input tensors may be passed as positional arguments", "only by keyword", "tf.keras 2"),
        origin="tf.keras 2 code: BatchNormalization(axis=3)(X, training) worked there; Keras 3 raises",
    ),
    Mistake(
        "tf.add on Keras tensors",
        "identity_block",
        (("X = Add()([X, X_shortcut])", "X = tf.add(X, X_shortcut)"),),
        ("runs", "TensorFlow function", "tf.keras 2", "keras.ops.add"),
        origin="tf.keras 2 code: TensorFlow operations on symbolic tensors worked there; Keras 3 raises",
    ),
    # ----------------------------------------------------------------------------------- ResNet50
    Mistake(
        "blocks called with training=False in ResNet50",
        "ResNet50",
        (
            (
                "    X = identity_block(X, 3, [128, 128, 512])\n",
                "    X = identity_block(X, 3, [128, 128, 512], training=False)\n",
            ),
        ),
        ("'layer settings: training'", "stage 3, identity block", "default training argument"),
        origin="the course's v3.0 had ResNet50(..., training=False) and passed training to the blocks",
    ),
    Mistake(
        "blocks called with an undefined training variable",
        "ResNet50",
        (
            (
                "convolutional_block(X, f=3, filters=[128, 128, 512], s=2)",
                "convolutional_block(X, f=3, filters=[128, 128, 512], s=2, training=training)",
            ),
        ),
        ("NameError", "ResNet50 has no training parameter"),
        origin="the course's v3.0 had ResNet50(..., training=False) and passed training to the blocks",
    ),
    Mistake(
        "stage 1 BatchNorm called with training=True",
        "ResNet50",
        (
            (
                "    X = BatchNormalization(axis=3)(X)\n",
                "    X = BatchNormalization(axis=3)(X, training=True)\n",
            ),
        ),
        ("'layer settings: training'", "stage 1: BatchNorm", "the stage 1 BatchNorm is called as given"),
        origin="https://community.deeplearning.ai/t/keras-predict-giving-different-results-depending-on-how-used/87440",
    ),
    Mistake(
        "identity block where stage 4 needs a convolutional block",
        "ResNet50",
        (
            (
                "convolutional_block(X, f=3, filters=[256, 256, 1024], s=2)",
                "identity_block(X, 3, [256, 256, 1024])",
            ),
        ),
        ("incompatible shapes", "each stage starts with a convolutional block"),
        origin="https://github.com/fchollet/deep-learning-models/issues/52",
    ),
    Mistake(
        "identity blocks missing in stage 4",
        "ResNet50",
        (("    X = identity_block(X, 3, [256, 256, 1024])\n", ""),),
        ("'number of blocks per stage'", "output 1024 channels", "6 residual blocks", "received: 1 blocks"),
        origin=f"{_COURSE}: 4 identity blocks in stage 4 fail 'Models does not have the same number of layers'",
    ),
    Mistake(
        "an identity block too many in stage 3",
        "ResNet50",
        (
            (
                "    ## Stage 4",
                "    X = identity_block(X, 3, [128, 128, 512])\n\n    ## Stage 4",
            ),
        ),
        ("'number of blocks per stage'", "output 512 channels", "4 residual blocks", "received: 5 blocks"),
        origin="Table 1 of He et al. read as 4 blocks after the first (classic course: wrong block counts "
        "fail the layer count)",
    ),
    Mistake(
        "stage 5 with stride 1",
        "ResNet50",
        (("filters=[512, 512, 2048], s=2", "filters=[512, 512, 2048], s=1"),),
        ("'layer settings: strides'", "stage 5, convolutional block", "s = 2 in stages 3, 4 and 5"),
        origin=f"{_COURSE}: first mismatch at row 142 (4x4 instead of 2x2)",
    ),
    Mistake(
        "stage 2 with stride 2",
        "ResNet50",
        (("filters=[64, 64, 256], s=1", "filters=[64, 64, 256], s=2"),),
        (
            "zero or negative",
            "shrank to 1 x 1 before the AveragePooling2D",
            "stage 2's convolutional block uses s=1",
        ),
        origin=f"{_COURSE}: 'Computed output size would be zero or negative'; "
        "https://github.com/matterport/Mask_RCNN/issues/1810",
    ),
    Mistake(
        "ZeroPadding of 2",
        "ResNet50",
        (("ZeroPadding2D((3, 3))", "ZeroPadding2D((2, 2))"),),
        ("'layer settings: padding'", "ZeroPadding2D (3, 3)", "expected: padding=[[3, 3], [3, 3]]"),
        origin="https://github.com/fchollet/deep-learning-models/issues/108",
    ),
    Mistake(
        "MaxPooling with stride 1",
        "ResNet50",
        (("MaxPooling2D((3, 3), strides=(2, 2))", "MaxPooling2D((3, 3), strides=(1, 1))"),),
        ("'layer settings: strides'", "MaxPooling2D 3x3, stride 2", "strides=(2, 2)"),
        origin="the given stage 1 retyped; https://github.com/keras-team/keras-applications/issues/161",
    ),
    Mistake(
        "MaxPooling in place of AveragePooling",
        "ResNet50",
        (("    X = AveragePooling2D((2, 2))(X)\n", "    X = MaxPooling2D((2, 2))(X)\n"),),
        ("MaxPooling2D layers", "after stage 5 comes AveragePooling2D"),
        origin="the stage 1 pooling line copied for the top",
    ),
    Mistake(
        "AveragePooling2D without a pool size",
        "ResNet50",
        (("AveragePooling2D((2, 2))", "AveragePooling2D()"),),
        ("builds the model", "pool_size", "no default pool size", "tf.keras 2"),
        origin="tf.keras 2 code: its pooling layers defaulted to pool_size=(2, 2); Keras 3 requires it",
    ),
    Mistake(
        "AveragePooling 7x7 as in Keras Applications",
        "ResNet50",
        (("AveragePooling2D((2, 2))", "AveragePooling2D((7, 7))"),),
        ("zero or negative", "pooling window larger than its input", "2 x 2"),
        origin="https://github.com/keras-team/keras/issues/6797 (resnet50.py pools 7x7 for 224x224 images)",
    ),
    Mistake(
        "GlobalAveragePooling in place of AveragePooling + Flatten",
        "ResNet50",
        (
            ("    X = AveragePooling2D((2, 2))(X)\n", "    X = keras.layers.GlobalAveragePooling2D()(X)\n"),
            ("    X = Flatten()(X)\n", ""),
        ),
        ("GlobalAveragePooling2D layers", "not GlobalAveragePooling2D"),
        origin="https://github.com/keras-team/keras/pull/7434",
    ),
    Mistake(
        "Flatten missing",
        "ResNet50",
        (("    X = Flatten()(X)\n", ""),),
        ("'layers'", "expected: 1 Flatten layers", "Flatten() turns the (1, 1, 2048) volume into a vector"),
        origin="https://github.com/sourajitcs/Residual-Attention-Convolutional-Neural-Network/issues/1",
    ),
    Mistake(
        "Dropout before the top layer",
        "ResNet50",
        (("    X = Flatten()(X)\n", "    X = Flatten()(X)\n    X = keras.layers.Dropout(0.5)(X)\n"),),
        ("'layers'", "Dropout layers", "no Dropout layer"),
        origin="https://analyticsindiamag.com/guide-to-building-a-resnet-model-with-without-dropout/",
    ),
    Mistake(
        "softmax missing on the top layer",
        "ResNet50",
        ((_TOP, _TOP.replace("activation='softmax', ", "")),),
        ("'layer settings: activation'", "received: activation='linear'", "class probabilities"),
        origin="the activation left out of the top layer (a loss with from_logits in mind)",
    ),
    Mistake(
        "ReLU on the top layer",
        "ResNet50",
        ((_TOP, _TOP.replace("'softmax'", "'relu'")),),
        ("'layer settings: activation'", "received: activation='relu'", "sum to 1"),
        origin="the blocks' ReLU copied for the top layer",
    ),
    Mistake(
        "kernel_regularizer on the top layer",
        "ResNet50",
        ((_TOP, _TOP.replace("(seed=0))", "(seed=0), kernel_regularizer=keras.regularizers.l2(1e-4))")),),
        ("'layer settings: kernel_regularizer'", "no weight regularization"),
        origin="https://errorhandle.ai/how-to-add-l2-regularization-to-resnet50; "
        "https://github.com/raghakot/keras-resnet/issues/59 (kernel_regularizer=l2(0.0001) in keras-resnet)",
    ),
    Mistake(
        "number of classes hard-coded",
        "ResNet50",
        ((_TOP, _TOP.replace("Dense(classes,", "Dense(6,")),),
        ("'layer settings: units'", "expected: units=10", "Dense(classes, ...)"),
        caught_by="hidden",
        origin=f"{_COURSE}: its test only built the default (64, 64, 3) and 6 classes",
    ),
    Mistake(
        "input shape hard-coded",
        "ResNet50",
        (("X_input = Input(input_shape)", "X_input = Input((64, 64, 3))"),),
        ("'layer settings: output_shape'", "layer 0 (stage 1: input)", "Input(input_shape)"),
        caught_by="hidden",
        origin=f"{_COURSE}: its test only built the default (64, 64, 3) and 6 classes",
    ),
)

_BY_NAME = {m.name: m for m in CATALOGUE}


def get(name: str) -> Mistake:
    """The mistake of the catalogue with this name.

    Raises:
        KeyError: no mistake has this name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no mistake named {name!r} in the catalogue") from None


def namespace(mistake) -> dict:
    """The reference solution with the edits of a catalogue entry (a :class:`Mistake`, or an
    equivalent answer of :mod:`qa.equivalences`) applied, executed.

    Returns:
        A namespace with ``identity_block``, ``convolutional_block`` and ``ResNet50``; only the
        function named by ``mistake.function`` differs from the reference solution (ResNet50
        calls the namespace's own, correct, blocks).

    Raises:
        ValueError: an ``old`` text of the edits does not occur in the cell.
    """
    return load_solution(replace={mistake.function: [tuple(edit) for edit in mistake.edits]})


def _tests() -> dict:
    import public_tests

    return {
        "identity_block": public_tests.identity_block_test,
        "convolutional_block": public_tests.convolutional_block_test,
        "ResNet50": public_tests.ResNet50_test,
    }


@functools.cache
def first_failure(mistake: Mistake) -> tuple[str, str] | None:
    """Which test catches a mistake, and with which message.

    Runs the public test of ``mistake.function`` with all its checks on the edited solution; if it
    passes, runs :func:`resnets_kit.grader.hidden.hidden_test` of that function. What the tests print
    (a line on success, notes about captured stderr) is captured and discarded. The result is
    cached per process (the edited solution is deterministic), so that a mistake whose model is
    large (ResNet50) is built once per run.

    Args:
        mistake: a mistake of the catalogue (or any :class:`Mistake`).

    Returns:
        ``("public", message)`` or ``("hidden", message)``: the test that failed first and its
        failure message; ``None`` when both tests pass.

    Raises:
        ValueError: an edit's ``old`` text does not occur in the cell.
        Exception: anything else than a test failure (an ``AssertionError``) raised by the tests.
    """
    from resnets_kit.grader.hidden import hidden_test

    solution = namespace(mistake)
    target = solution[mistake.function]
    runs = (
        ("public", lambda: _tests()[mistake.function](target)),
        ("hidden", lambda: hidden_test(mistake.function, target)),
    )
    try:
        for kind, run in runs:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    run()
            except AssertionError as err:
                return kind, str(err)
        return None
    finally:
        if mistake.function == "ResNet50":
            _release_models()


def _release_models() -> None:
    """Free the memory of the models built by a ResNet50 test (each holds 23.6 million weights)."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def verdict(mistake: Mistake, result: tuple[str, str] | None) -> str:
    """Why a mistake counts as missed, or ``""`` when it is caught as declared.

    Args:
        mistake: the mistake.
        result: what :func:`first_failure` returned for it.

    Returns:
        ``""`` (caught by the declared test with a message containing every ``expect`` text), or
        a short reason: not caught, caught by the other test, or the texts the message lacks.
    """
    if result is None:
        return "not caught: the public and the hidden test pass"
    kind, message = result
    if kind != mistake.caught_by:
        return f"caught by the {kind} test, declared {mistake.caught_by}"
    missing = [text for text in mistake.expect if text not in message]
    if missing:
        return "the message lacks " + ", ".join(repr(t) for t in missing)
    return ""


@functools.cache
def cell_points() -> dict[str, float]:
    """Points of each autograded test cell (``grade_id`` to points), from the source notebook."""
    import nbformat

    from resnets_kit.solution import SOURCE_NOTEBOOK

    points = {}
    for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            points[meta["grade_id"]] = float(meta.get("points", 0))
    return points


@functools.cache
def _reference() -> dict:
    return load_solution()


@functools.cache
def graded_points(mistake: Mistake) -> dict[str, float]:
    """The points the autograder gives each graded function of a submission with this mistake.

    The grading path is the autograder's (:mod:`resnets_kit.grader`): the sandbox's records of
    what each function builds on every public and hidden case (made here, in this process, by
    :func:`resnets_kit.grader.sandbox.check_function`), then the checks on the models rebuilt from
    them, cell by cell. ResNet50 is graded with the reference blocks, so for a mistake in a
    block its record is the reference's and it is not rebuilt here.

    Returns:
        Function name to points (the sum of its passing test cells).
    """
    from resnets_kit.grader.checks import check_records
    from resnets_kit.grader.plan import grading_plan
    from resnets_kit.grader.sandbox import check_function
    from resnets_kit.solution import GRADED_FUNCTIONS

    plan = grading_plan()
    edited, reference = namespace(mistake), _reference()
    points = {}
    try:
        for name in GRADED_FUNCTIONS:
            cells = {g: c for g, c in plan.items() if c.function == name}
            total = sum(cell_points()[g] for g in cells)
            if name == "ResNet50" and mistake.function != "ResNet50":
                points[name] = total  # graded with the reference blocks: nothing of the mistake reaches it
                continue
            record = check_function(name, edited, reference, None)
            outcomes = check_records({name: record}, cells)
            points[name] = sum(cell_points()[g] for g, outcome in outcomes.items() if outcome.passed)
    finally:
        _release_models()
    return points


def graded_verdict(mistake: Mistake, points: dict[str, float]) -> str:
    """``""`` when the autograder gives less than full marks for the mistaken function and full
    marks for the others, else the reason."""
    full = {}
    for grade_id, value in cell_points().items():
        function = max((f for f in points if grade_id.startswith(f)), key=len)
        full[function] = full.get(function, 0.0) + value
    if points[mistake.function] >= full[mistake.function]:
        return f"the autograder gives {mistake.function} full marks"
    others = [f for f in points if f != mistake.function and points[f] < full[f]]
    if others:
        return f"the autograder takes points from {', '.join(others)} too"
    return ""
