import numpy as np
import pytest
import torch

from dlcourse import convnets, data, torch_training


@pytest.mark.parametrize("in_size, n_features", [(28, 16 * 5 * 5), (8, 16 * 2 * 2)])
def test_lenet_shapes(in_size, n_features):
    net = convnets.build_lenet(in_size=in_size, n_classes=10, seed=0)
    assert net.n_features == n_features
    out = net(torch.zeros(3, 1, in_size, in_size))
    assert out.shape == (3, 10)
    assert net.features(torch.zeros(2, 1, in_size, in_size)).shape == (2, 16, *(2 * [int(np.sqrt(n_features / 16))]))


def test_lenet5_parameter_count():
    # conv1 6*(1*25)+6, conv2 16*(6*25)+16, fc1 400*120+120, fc2 120*84+84, fc3 84*10+10
    expected = 156 + 2416 + 48120 + 10164 + 850
    assert torch_training.n_parameters(convnets.build_lenet(28)) == expected == 61706
    # 8x8 digits: 3x3 kernels, 16*2*2 = 64 features
    assert torch_training.n_parameters(convnets.build_lenet(8)) == 60 + 880 + 64 * 120 + 120 + 10164 + 850
    assert torch_training.n_parameters(convnets.build_lenet(8, in_channels=3, n_classes=4)) == \
        6 * 27 + 6 + 880 + 64 * 120 + 120 + 10164 + 84 * 4 + 4


def test_lenet_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = convnets.build_lenet(8, seed=1), convnets.build_lenet(8, seed=1), convnets.build_lenet(8, seed=2)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.features.conv1.weight, c.features.conv1.weight)


def test_lenet_rejects_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        convnets.build_lenet(28, activation="sigmoid")
    with pytest.raises(ValueError, match="in_size"):
        convnets.build_lenet(2)


@pytest.mark.parametrize("kind", convnets.KINDS)
def test_deep_cnn_forward_backward(kind):
    net = convnets.build_deep_cnn(kind, depth=4, width=8, in_channels=3, n_classes=5, seed=0)
    x = torch.randn(6, 3, 10, 12)
    out = net(x)
    assert out.shape == (6, 5)
    torch.nn.functional.cross_entropy(out, torch.arange(6) % 5).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert len(convnets.conv_layers(net)) == 1 + 4


def test_deep_cnn_parameter_counts():
    d, w, c, k = 6, 8, 1, 10
    conv = w * w * 9 + w
    plain = (w * c * 9 + w) + d * conv + (w * k + k)
    assert torch_training.n_parameters(convnets.build_deep_cnn("plain", d, w)) == plain
    assert torch_training.n_parameters(convnets.build_deep_cnn("resnet", d, w)) == plain   # skips are free
    # batch norm: convolutions without bias, plus a scale and a shift per channel
    assert torch_training.n_parameters(convnets.build_deep_cnn("bn", d, w)) == plain + (d + 1) * w


def test_deep_cnn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        convnets.build_deep_cnn("dense")
    with pytest.raises(ValueError, match="even"):
        convnets.build_deep_cnn("resnet", depth=5)
    with pytest.raises(ValueError, match="init"):
        convnets.build_deep_cnn("plain", init="xavier")


def test_he_init_draws_variance_two_over_fan_in():
    net = convnets.build_deep_cnn("plain", depth=2, width=64, init="he", seed=0)
    w = net.body.layer1.conv.weight.detach()
    assert float(w.var()) == pytest.approx(2 / (64 * 9), rel=0.05)
    assert float(net.body.layer1.conv.bias.detach().abs().max()) == 0.0


@pytest.fixture(scope="module")
def digit_batch():
    X, _, y, _ = data.digits_split()
    X = X[:256].reshape(-1, 1, 8, 8).astype(np.float32)
    return (X - X.mean()) / X.std(), y[:256]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plain_deep_net_starves_its_first_layers_of_gradient(digit_batch, seed):
    """The lecture's point: at init (torch's default), a plain 12-layer CNN's first layers get gradients many
    orders of magnitude smaller than the same layers with batch normalisation or with skip connections."""
    first = {}
    for kind in convnets.KINDS:
        norms = torch_training.grad_norms(convnets.build_deep_cnn(kind, depth=12, width=16, seed=seed), *digit_batch)
        values = list(norms.values())
        assert len(values) == 1 + 12 + 1 and list(norms)[0] == "stem.conv.weight"
        first[kind] = values[0]
        if kind == "plain":
            assert values[0] < 1e-3 * values[-2]          # first conv vs last conv of the same network
        else:
            assert 0.1 < values[0] / values[-2] < 30      # same order of magnitude along the depth
    assert first["plain"] < 1e-3 * first["bn"] and first["plain"] < 1e-3 * first["resnet"]


def test_feature_maps_of_one_image():
    net = convnets.build_lenet(28, seed=0)
    net.train()
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    maps = convnets.feature_maps(net, image)
    assert list(maps) == ["features.conv1", "features.conv2"]
    assert maps["features.conv1"].shape == (6, 28, 28) and maps["features.conv2"].shape == (16, 10, 10)
    expected = net.features.conv1(torch.from_numpy(image)[None, None])[0].detach().numpy()
    np.testing.assert_allclose(maps["features.conv1"], expected, rtol=1e-5, atol=1e-6)
    assert net.training                                          # mode restored
    for shape in [(1, 28, 28), (1, 1, 28, 28)]:
        np.testing.assert_array_equal(convnets.feature_maps(net, image.reshape(shape))["features.conv2"],
                                      maps["features.conv2"])
    with pytest.raises(ValueError, match="one image"):
        convnets.feature_maps(net, np.zeros((2, 1, 28, 28)))


def test_feature_maps_of_a_deep_cnn_use_running_statistics():
    net = convnets.build_deep_cnn("bn", depth=2, width=4, seed=0)
    maps = convnets.feature_maps(net, torch.ones(1, 6, 6))
    assert list(maps) == ["stem.conv", "body.layer1.conv", "body.layer2.conv"]
    assert all(m.shape == (4, 6, 6) for m in maps.values())
