import textwrap

import pytest

from tfi2i import registry
from tfi2i.models import factory
from tfi2i.data import folders, pipeline
from tfi2i.errors import Tfi2iError

PLUGIN_CODE = '''
import tensorflow as tf


class TotalVariationLoss:
    """Penalizes differences between neighbouring pixels of the translation."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, t):
        dy = tf.abs(t.translated[:, 1:] - t.translated[:, :-1])
        dx = tf.abs(t.translated[:, :, 1:] - t.translated[:, :, :-1])
        return self.scale * (tf.reduce_mean(dy, axis=[1, 2, 3]) + tf.reduce_mean(dx, axis=[1, 2, 3]))
'''


def make_distribution(site, dist, version, entry_points, modules):
    """A minimal installed distribution: a *.dist-info with entry points, plus its modules."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for name, code in modules.items():
        (site / f"{name}.py").write_text(code)


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_distribution(site, "tfi2i-tv", "0.1", """
        [tfi2i.losses]
        tv = tfi2i_tv:TotalVariationLoss
        """, {"tfi2i_tv": PLUGIN_CODE})
    make_distribution(site, "tfi2i-broken", "0.2", """
        [tfi2i.losses]
        broken = tfi2i_broken_module:Loss
        """, {"tfi2i_broken_module": "import a_module_that_does_not_exist\n"})
    monkeypatch.syspath_prepend(str(site))
    return site


def test_builtins_are_registered_through_entry_points():
    found = {(e.group, e.name): e.distribution for e in registry.entries()}
    for key in [("tfi2i.models", "pix2pix"), ("tfi2i.generators", "unet_256"), ("tfi2i.generators", "resnet_9blocks"),
                ("tfi2i.discriminators", "patchgan"), ("tfi2i.discriminators", "pixel"),
                ("tfi2i.gan_losses", "vanilla"), ("tfi2i.gan_losses", "lsgan"), ("tfi2i.gan_losses", "wgan"), ("tfi2i.gan_losses", "wgangp"),
                ("tfi2i.gan_losses", "hinge"), ("tfi2i.losses", "l1"), ("tfi2i.losses", "l2"), ("tfi2i.losses", "mixed")]:
        assert found[key] == "tfi2i"


def test_unknown_name_lists_what_exists():
    with pytest.raises(Tfi2iError) as error:
        registry.load("tfi2i.gan_losses", "lsgann")
    message = str(error.value)
    assert "\n" not in message
    assert "unknown GAN loss 'lsgann' (did you mean 'lsgan'?)" in message
    assert "hinge, lsgan, vanilla, wgan, wgangp" in message


def test_third_party_plugin_is_discovered_and_trains(plugin_site, tiny_config):
    entry = next(e for e in registry.entries("tfi2i.losses") if e.name == "tv")
    assert entry.distribution == "tfi2i-tv"

    config = tiny_config("losses=[{name: l1, weight: 100}, {name: tv, weight: 5, params: {scale: 2.0}}]")
    model = factory.build_model(config)
    model.compile(factory.build_optimizer(config, 8), factory.build_optimizer(config, 8))
    model.build_optimizers()
    real_a, real_b = next(iter(pipeline.evaluation_set(
        folders.find_paired(config.data.root, "aligned", "train"), config.data, 2)))
    before = [w.numpy().copy() for w in model.generator.trainable_weights]
    logs = model.train_step((real_a, real_b))
    assert float(logs["tv"]) > 0.0
    assert float(logs["g_total"]) == pytest.approx(float(logs["g_gan"]) + float(logs["l1"]) + float(logs["tv"]), rel=1e-5)
    assert any((w.numpy() != b).any() for w, b in zip(model.generator.trainable_weights, before))


def test_broken_plugin_is_one_line_and_others_still_work(plugin_site):
    with pytest.raises(Tfi2iError) as error:
        registry.load("tfi2i.losses", "broken")
    message = str(error.value)
    assert "\n" not in message
    assert "plugin 'broken' (tfi2i.losses = tfi2i_broken_module:Loss) from distribution 'tfi2i-broken'" in message
    assert "ModuleNotFoundError" in message
    assert registry.load("tfi2i.losses", "tv").__name__ == "TotalVariationLoss"
    assert registry.load("tfi2i.losses", "l1").__name__ == "L1Loss"


def test_a_name_claimed_twice_is_refused(plugin_site):
    make_distribution(plugin_site, "tfi2i-other-tv", "1.0", """
        [tfi2i.losses]
        tv = tfi2i_tv:TotalVariationLoss
        """, {})
    with pytest.raises(Tfi2iError, match=r"'tv' is registered by several distributions \(tfi2i-other-tv, tfi2i-tv\)"):
        registry.load("tfi2i.losses", "tv")


def test_bad_params_are_named_with_the_accepted_ones(tiny_config):
    with pytest.raises(Tfi2iError, match=r"model.generator 'unet': unknown param 'ngff' \(did you mean 'ngf'\?\)"):
        factory.build_model(tiny_config("model.generator.params.ngff=3"))
    with pytest.raises(Tfi2iError, match=r"losses.0 'mixed': unknown param 'alpha'; accepted: l1_fraction"):
        factory.build_model(tiny_config("losses=[{name: mixed, params: {alpha: 1}}]"))
