"""Convolutional networks in torch (lecture 07): a LeNet-style net and a family of deep CNNs.

    net = convnets.build_lenet(in_size=28, n_classes=10, seed=0)              # Fashion-MNIST, 61,706 parameters
    net = convnets.build_lenet(in_size=8, n_classes=10, seed=0)               # the 8x8 digits
    deep = convnets.build_deep_cnn("plain" | "bn" | "resnet", depth=12, width=16, seed=0)
    maps = convnets.feature_maps(net, image)                                   # {conv layer name: (C, H, W) array}

**LeNet** (LeCun et al., 1998) alternates convolution, non-linearity and 2x2 max pooling twice, then three fully
connected layers: ``features`` = conv1, act1, pool1, conv2, act2, pool2 and ``classifier`` = flatten, fc1, act,
fc2, act, fc3. On 28x28 inputs the kernels are 5x5 (the first one zero-padded by 2, so that it keeps the size):
28 -> 28 -> 14 -> 10 -> 5, and 16 x 5 x 5 = 400 features enter the classifier (LeNet-5's 61,706 parameters).
Inputs smaller than 16 pixels get 3x3 kernels, both padded by 1: 8 -> 8 -> 4 -> 4 -> 2.

**The deep family** shares one layout, so that only what differs is compared: a stem (one 3x3 convolution from
the input channels to ``width`` channels, and a ReLU), a body of ``depth`` 3x3 convolutions of ``width`` channels
at the input's resolution (zero padding 1), global average pooling and one linear layer to the class scores.

* ``"plain"``: each body layer is conv -> ReLU;
* ``"bn"``: conv -> batch normalisation -> ReLU (the conv has no bias: the normalisation would remove it, and its
  own shift replaces it); the stem is normalised too;
* ``"resnet"``: the body layers go in pairs, each pair a residual block ``relu(x + conv(relu(conv(x))))``
  (He et al., 2016, without their batch normalisation, so that the skip is the only change): same
  convolutions, same parameter count as ``"plain"``.

Every layer starts from torch's default initialisation (``kaiming_uniform_`` with ``a = sqrt(5)``: weights of
variance 1 / (3 fan_in)), unless ``init="he"`` asks for He's variance 2 / fan_in (normal, biases 0). The
``seed`` draws the initial weights without touching torch's global generator.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from . import _reference, _validate, runtime

_reference.reference_module(__name__)  # a graded model builder may not call these

KINDS = ("plain", "bn", "resnet")
INITS = ("default", "he")


def _seeded(build, seed):
    """Call ``build()`` with torch's CPU generator set to ``seed`` (restored afterwards); ``seed=None``: as is."""
    if seed is None:
        return build()
    with runtime.torch_seeded(seed):
        return build()


def _he_init(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


# --- LeNet ------------------------------------------------------------------------------------------------


class LeNet(nn.Module):
    """Two conv/act/max-pool stages (``features``) and three fully connected layers (``classifier``)."""

    def __init__(self, in_size: int = 28, n_classes: int = 10, in_channels: int = 1, channels=(6, 16),
                 hidden=(120, 84), activation: str = "relu"):
        super().__init__()
        in_size = _validate.as_int(in_size, "in_size", minimum=4)
        n_classes = _validate.as_int(n_classes, "n_classes", minimum=2)
        in_channels = _validate.as_int(in_channels, "in_channels")
        c1, c2 = (_validate.as_int(c, "channels") for c in channels)
        h1, h2 = (_validate.as_int(h, "hidden") for h in hidden)
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in acts:
            raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
        act = acts[activation]
        k, pad2 = (5, 0) if in_size >= 16 else (3, 1)
        self.in_size, self.in_channels, self.kernel_size = in_size, in_channels, k
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, c1, k, padding=k // 2)), ("act1", act()), ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(c1, c2, k, padding=pad2)), ("act2", act()), ("pool2", nn.MaxPool2d(2)),
        ]))
        side = ((in_size // 2) + 2 * pad2 - k + 1) // 2
        if side < 1:
            raise ValueError(f"in_size {in_size} is too small for LeNet's two stages")
        self.n_features = c2 * side * side
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("fc1", nn.Linear(self.n_features, h1)), ("act3", act()),
            ("fc2", nn.Linear(h1, h2)), ("act4", act()), ("fc3", nn.Linear(h2, n_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.features(x))


def build_lenet(in_size: int = 28, n_classes: int = 10, in_channels: int = 1, channels=(6, 16), hidden=(120, 84),
                activation: str = "relu", seed: int | None = 0) -> LeNet:
    """A :class:`LeNet` for (N, ``in_channels``, ``in_size``, ``in_size``) inputs, initialised from ``seed``."""
    return _seeded(lambda: LeNet(in_size, n_classes, in_channels, channels, hidden, activation), seed)


# --- the deep family: plain, batch-normalised, residual ------------------------------------------------


class ResidualBlock(nn.Module):
    """``relu(x + conv2(relu(conv1(x))))`` with two 3x3 convolutions of ``width`` channels (padding 1)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.act2 = nn.ReLU()

    def forward(self, x):
        return self.act2(x + self.conv2(self.act1(self.conv1(x))))


class DeepCNN(nn.Module):
    """stem (conv 3x3 + [BN] + ReLU) -> body of ``depth`` 3x3 convolutions -> global average pool -> linear."""

    def __init__(self, kind: str = "plain", depth: int = 12, width: int = 16, in_channels: int = 1,
                 n_classes: int = 10):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        depth = _validate.as_int(depth, "depth")
        width = _validate.as_int(width, "width")
        if kind == "resnet" and depth % 2:
            raise ValueError(f"a residual body has pairs of convolutions: depth must be even, got {depth}")
        self.kind, self.depth, self.width = kind, depth, width
        bn = kind == "bn"

        def conv_unit(c_in):
            layers = [("conv", nn.Conv2d(c_in, width, 3, padding=1, bias=not bn))]
            if bn:
                layers.append(("bn", nn.BatchNorm2d(width)))
            return nn.Sequential(OrderedDict(layers + [("act", nn.ReLU())]))

        self.stem = conv_unit(_validate.as_int(in_channels, "in_channels"))
        if kind == "resnet":
            blocks = [(f"block{i + 1}", ResidualBlock(width)) for i in range(depth // 2)]
        else:
            blocks = [(f"layer{i + 1}", conv_unit(width)) for i in range(depth)]
        self.body = nn.Sequential(OrderedDict(blocks))
        self.head = nn.Sequential(OrderedDict([("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
                                               ("fc", nn.Linear(width, _validate.as_int(n_classes, "n_classes", 2)))]))

    def forward(self, x):
        return self.head(self.body(self.stem(x)))


def build_deep_cnn(kind: str = "plain", depth: int = 12, width: int = 16, in_channels: int = 1, n_classes: int = 10,
                   init: str = "default", seed: int | None = 0) -> DeepCNN:
    """A :class:`DeepCNN` of ``kind`` ``"plain"``, ``"bn"`` or ``"resnet"``, initialised from ``seed``.

    ``init="default"`` keeps torch's initialisation; ``"he"`` redraws conv and linear weights from
    N(0, 2 / fan_in) with zero biases (batch-norm layers keep scale 1 and shift 0 either way).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")

    def build():
        model = DeepCNN(kind, depth, width, in_channels, n_classes)
        if init == "he":
            _he_init(model)
        return model

    return _seeded(build, seed)


# --- looking inside ---------------------------------------------------------------------------------------


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The ``(name, module)`` of every ``nn.Conv2d`` of ``model``, in the order ``model.named_modules`` gives."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def feature_maps(model: nn.Module, x) -> dict[str, np.ndarray]:
    """The output of every conv layer of ``model`` for one image ``x``: ``{name: array (C_out, H', W')}``.

    ``x`` is one image, (C, H, W), (H, W) for one channel, or a batch of one (1, C, H, W); a numpy array or a
    tensor. The maps are the convolutions' outputs (before the non-linearity), computed in evaluation mode with
    no gradient on the model's device; the model's mode is restored afterwards.
    """
    x = torch.as_tensor(np.asarray(x.detach().cpu()) if isinstance(x, torch.Tensor) else np.asarray(x),
                        dtype=torch.float32)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image (C, H, W), (H, W) or (1, C, H, W), got shape {tuple(x.shape)}")
    found = conv_layers(model)
    if not found:
        raise ValueError("the model has no nn.Conv2d layer")
    maps, hooks = {}, []
    for name, module in found:
        hooks.append(module.register_forward_hook(
            lambda mod, inp, out, name=name: maps.__setitem__(name, out[0].detach().cpu().numpy())))
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        with torch.no_grad():
            model(x.to(device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return {name: maps[name] for name, _ in found}
