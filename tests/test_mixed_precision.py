import keras
import numpy as np
import pytest

from tests.conftest import TINY, TINY_CUT, TINY_CYCLEGAN, TINY_UNIT, EpochLogs
from tfi2i import config as config_lib
from tfi2i.errors import Tfi2iError
from tfi2i.runtime import mixed_precision
from tfi2i.kernels.fused_adam import FusedAdam
from tfi2i.training.assembly import assemble

MODELS = {"pix2pix": ("paired_root", []), "cyclegan": ("unpaired_root", TINY_CYCLEGAN),
          "unit": ("unpaired_root", TINY_UNIT), "cut": ("unpaired_root", TINY_CUT),
          # Instance norm everywhere: the stacked passes, real images with pooled ones.
          "cyclegan_stacked": ("unpaired_root", [*TINY_CYCLEGAN, "model.discriminator.params={ndf: 8, norm: instance}"])}
SHORT = ["train.steps_per_epoch=3", "train.n_epochs=1", "train.n_epochs_decay=0"]


def train(request, tmp_path, name, *overrides):
    root_fixture, model_overrides = MODELS[name]
    root = request.getfixturevalue(root_fixture)
    config = config_lib.load(None, [f"data.root={root}", *TINY, *model_overrides, *SHORT, *overrides])
    trainer = assemble(config, str(tmp_path / "run"), log=lambda _: None)
    logs = EpochLogs()
    result = trainer.fit([logs])
    return trainer, result, logs.logs


def leaf_layers(model):
    """Every layer that is not itself a model, in order, input layers left out."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            found.append(layer)
    return found


def assert_trained_without_nan(trainer, result, logs):
    assert result.step == 3
    assert all(np.isfinite(v) for v in logs[-1].values()), logs[-1]
    for v in trainer.model.variables:
        if "float" in str(v.dtype):
            assert np.isfinite(v.numpy()).all(), v.path


@pytest.mark.parametrize("name", list(MODELS))
def test_mixed_precision_on_a_cpu_is_bfloat16_with_float32_heads(request, tmp_path, name):
    trainer, result, logs = train(request, tmp_path, name, "train.mixed_precision=true")
    assert trainer.dtype_policy == "mixed_bfloat16"
    translator = trainer.model.translator("a2b")
    layers = leaf_layers(translator)
    heads = {layer.name for layer in layers if layer.dtype_policy.name == "float32"}
    # Only the heads compute in float32: the tanh, and UNIT's latent mean (its KL input).
    assert heads == ({"latent_mean", "head_tanh"} if name == "unit" else {"head_tanh"})
    assert {layer.dtype_policy.name for layer in layers if layer.name not in heads} == {"mixed_bfloat16"}
    assert layers[-1].name == "head_tanh" and translator.output.dtype == "float32"
    # Variables stay float32; bfloat16 needs no loss scaling.
    assert {str(v.dtype) for v in trainer.model.trainable_variables} == {"float32"}
    assert type(trainer.model.generator_optimizer) is FusedAdam  # not wrapped in a LossScaleOptimizer
    assert_trained_without_nan(trainer, result, logs)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was


def test_float16_scales_the_loss_and_skips_overflowing_steps(request, tmp_path, monkeypatch):
    monkeypatch.setattr(mixed_precision, "policy_name", lambda enabled: "mixed_float16" if enabled else "float32")
    trainer, result, logs = train(request, tmp_path, "pix2pix", "train.mixed_precision=true")
    for optimizer in trainer.model.optimizers.values():
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert trainer.model.translator("a2b").layers[2].dtype_policy.name == "mixed_float16"
    # The initial scale 2^15 overflows float16 for these losses: the scale was lowered, and the
    # skipped steps do not count, so training still ran 3 real updates.
    assert float(trainer.model.generator_optimizer.dynamic_scale.numpy()) < 2.0**15
    assert_trained_without_nan(trainer, result, logs)


def test_jit_compile_trains_as_without_it(request, tmp_path):
    _, _, eager_graph = train(request, tmp_path / "plain", "pix2pix")
    trainer, result, compiled = train(request, tmp_path / "xla", "pix2pix", "train.jit_compile=true")
    assert trainer.model.jit_compile is True
    assert compiled[0] == pytest.approx(eager_graph[0], rel=1e-3)


def test_jit_compile_on_a_cpu_is_advised_against(tiny_config, tmp_path):
    lines = []
    assemble(tiny_config("train.jit_compile=true"), str(tmp_path / "run"), log=lines.append)
    assert "note: train.jit_compile on a CPU runs these networks several times slower; set it false" in lines
    lines.clear()
    assemble(tiny_config(), str(tmp_path / "plain"), log=lines.append)
    assert not any("jit_compile" in line for line in lines)


def test_jit_compile_under_multi_worker_without_gpus_is_refused_in_one_line(tiny_config, tmp_path):
    # Refused before the strategy is built: this process never starts a cluster.
    config = tiny_config("train.jit_compile=true", "distribute=multi_worker")
    with pytest.raises(Tfi2iError, match=r"^train.jit_compile under distribute: multi_worker needs GPU workers \(XLA "
                                         r"has no all-reduce between CPU workers\); set train.jit_compile=false$"):
        assemble(config, str(tmp_path / "run"), log=lambda _: None)
