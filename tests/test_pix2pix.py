import numpy as np
import pytest

from tfi2i.models import factory
from tfi2i.data import folders, pipeline
from tests.conftest import built_model
from tfi2i.errors import Tfi2iError


def first_batch(config):
    files = folders.find_paired(config.data.root, "aligned", "train")
    return next(iter(pipeline.training_stream(files, config.data, 0, config.train.batch_size)))


@pytest.mark.parametrize("gan_loss, discriminator", [
    ("vanilla", "patchgan"), ("lsgan", "pixel"), ("wgangp", "patchgan"), ("hinge", "basic"),
])
def test_every_gan_loss_trains_pix2pix(tiny_config, gan_loss, discriminator):
    config = tiny_config(f"model.gan_loss.name={gan_loss}", f"model.discriminator.name={discriminator}",
                         "model.discriminator.params={ndf: 8}")
    model = built_model(config)
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    logs = {k: float(v) for k, v in model.train_step(first_batch(config)).items()}
    assert all(np.isfinite(v) for v in logs.values())
    assert ("d_gan_penalty" in logs) == (gan_loss == "wgangp")
    assert logs["d_total"] == pytest.approx(logs["d_gan"] + logs.get("d_gan_penalty", 0.0), rel=1e-5)
    assert any((w.numpy() != b).any() for w, b in zip(model.discriminator.trainable_weights, d_before))
    assert int(model.generator_optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 1


def test_generator_objective_is_gan_plus_weighted_l1(tiny_config):
    config = tiny_config("losses=[{name: l1, weight: 100}]", "model.gan_loss.weight=2")
    logs = {k: float(v) for k, v in built_model(config).train_step(first_batch(config)).items()}
    assert logs["g_total"] == pytest.approx(logs["g_gan"] + logs["l1"], rel=1e-5)
    assert 1.0 < logs["l1"] < 200.0  # weighted by 100: mean |G(A) - B| is O(0.1 .. 1)


def test_test_step_updates_nothing(tiny_config):
    config = tiny_config()
    model = built_model(config)
    before = [v.numpy().copy() for v in model.trainable_variables]
    logs = model.test_step(first_batch(config))
    assert set(logs) == {"g_total", "g_gan", "l1", "d_total", "d_gan"}
    for v, b in zip(model.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_call_translates_with_the_generator(tiny_config):
    config = tiny_config()
    model = built_model(config)
    real_a, _ = first_batch(config)
    np.testing.assert_allclose(model(real_a), model.generator(real_a, training=False), atol=1e-6)


def test_loss_list_mistakes_are_refused(tiny_config):
    with pytest.raises(Tfi2iError, match="loss 'l1' is listed 2 times"):
        factory.build_model(tiny_config("losses=[{name: l1}, {name: l1, weight: 3}]"))
    with pytest.raises(Tfi2iError, match=r"lists direction\(s\) \['b2a'\], but model 'Pix2Pix' translates only a2b"):
        factory.build_model(tiny_config("losses=[{name: l1, directions: [b2a]}]"))
