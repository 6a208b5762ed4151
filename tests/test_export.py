import base64
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfi2i import config as config_lib
from tfi2i.data import images
from tfi2i.inference import export, translators
from tfi2i.errors import Tfi2iError
from tests.images import as_png_levels, in_process, png_bytes, random_pixels

# Loads each export given and writes what its two signatures return; one process for all of
# them, so TensorFlow starts once.
FRESH_PROCESS = """
import sys, numpy as np, tensorflow as tf
for path, images, encoded, out in zip(*[iter(sys.argv[1:])] * 4):
    loaded = tf.saved_model.load(path)
    floats = loaded.signatures["translate"](image=tf.constant(np.load(images)))["image"].numpy()
    served = loaded.signatures["serving_default"](image_bytes=tf.constant([open(encoded, "rb").read()]))
    np.savez(out, floats=floats, png=tf.io.decode_png(served["image_bytes"][0]).numpy(),
             image=served["image"].numpy())
"""
FRESH_CASES = [("pix2pix", "a2b"), ("cyclegan", "a2b"), ("cyclegan", "b2a"), ("unit", "a2b"), ("unit", "b2a")]


@pytest.fixture(scope="module")
def fresh_process_results(runs, tmp_path_factory):
    """{(model, direction): (inputs, what the export returned in a fresh process)}: a float batch
    of an odd size, not a multiple of anything the generators need, and one PNG."""
    base, arguments, inputs = tmp_path_factory.mktemp("fresh"), [], {}
    for name, direction in FRESH_CASES:
        folder = base / f"{name}_{direction}"
        path = export.export(runs[name][0], str(folder / "models"), direction)
        channels = json.load(open(os.path.join(path, "assets", "tfi2i.json")))["input_channels"]
        images = np.random.default_rng(1).uniform(-1, 1, (2, 25, 17, channels)).astype(np.float32)
        pixels = random_pixels(23, 13, channels)
        np.save(folder / "images.npy", images)
        (folder / "image.png").write_bytes(png_bytes(pixels))
        arguments += [path, str(folder / "images.npy"), str(folder / "image.png"), str(folder / "out.npz")]
        inputs[name, direction] = images, pixels, folder / "out.npz"
    subprocess.run([sys.executable, "-c", FRESH_PROCESS, *arguments], check=True, capture_output=True)
    return {case: (images, pixels, np.load(out)) for case, (images, pixels, out) in inputs.items()}


@pytest.mark.parametrize("name, direction", FRESH_CASES)
def test_export_loaded_in_a_fresh_process_equals_the_keras_generator(runs, fresh_process_results, name, direction):
    _, model = runs[name]
    images, pixels, result = fresh_process_results[name, direction]
    np.testing.assert_allclose(result["floats"], in_process(model, direction, images), atol=1e-5)
    # The bytes path: decoded as training decodes, translated, rounded to 8 bits.
    expected = in_process(model, direction, pixels[None].astype(np.float32) / 127.5 - 1.0)
    np.testing.assert_allclose(result["image"], expected, atol=1e-5)
    expected_png = as_png_levels(expected[0])
    assert result["png"].shape == expected_png.shape
    assert np.abs(result["png"].astype(np.float32) - expected_png).max() <= 1


def test_tf_serving_layout_versions_and_metadata(runs, tmp_path):
    run_dir, _ = runs["cyclegan"]
    base = str(tmp_path / "models")
    first = export.export(run_dir, base, "b2a")
    second = export.export(run_dir, base, "b2a", checkpoint="2", kernels="tuned")
    assert (first, second) == (os.path.join(base, "cyclegan_b2a", "1"), os.path.join(base, "cyclegan_b2a", "2"))
    assert sorted(os.listdir(os.path.dirname(first))) == ["1", "2"]  # no partial folder left behind
    for path in (first, second):
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        assert os.path.isdir(os.path.join(path, "variables"))
    metadata = json.load(open(os.path.join(second, "assets", "tfi2i.json")))
    config = config_lib.load(os.path.join(run_dir, "config.yaml"))
    assert metadata == {
        "model": "cyclegan", "direction": "b2a", "input_channels": 3, "output_channels": 3, "size_multiple": 4,
        "smallest_size": 8,
        "max_pixels": images.DEFAULT_MAX_PIXELS, "step": 2, "kernels": "tuned", "inference_mode": "eval",
        "config_sha256": export.config_hash(config), "tfi2i_version": metadata["tfi2i_version"],
    }
    assert json.load(open(os.path.join(first, "assets", "tfi2i.json")))["kernels"] == "keras"
    with pytest.raises(Tfi2iError, match="exists already"):
        export.export(run_dir, base, "b2a", version=1)
    with pytest.raises(Tfi2iError, match="no checkpoint of step 7; use --checkpoint latest or one of 2"):
        export.export(run_dir, base, "b2a", checkpoint="7")


def test_pix2pix_has_no_b2a(runs, tmp_path):
    with pytest.raises(Tfi2iError, match="translates only a2b, not b2a"):
        export.export(runs["pix2pix"][0], str(tmp_path), "b2a")


def test_saved_model_cli_shows_the_signatures(runs, tmp_path):
    path = export.export(runs["unit"][0], str(tmp_path / "models"), "a2b")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", path, "--all"], check=True, capture_output=True, text=True).stdout
    serving_default = shown.split("signature_def['serving_default']:")[1].split("signature_def[")[0]
    translate = shown.split("signature_def['translate']:")[1].split("signature_def[")[0]
    assert "inputs['image_bytes'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in serving_default
    assert "outputs['image_bytes'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in serving_default
    # A 3-channel A side, a 1-channel B side.
    assert "outputs['image'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, -1, -1, 1)" in serving_default
    assert "inputs['image'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, -1, -1, 3)" in translate
    assert "outputs['image'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, -1, -1, 1)" in translate


def tf_serving_rest(signature, body):
    """What TF Serving's REST API does with a row-format predict body: {"b64": ...} values are
    decoded to bytes, the instances batched into the one input; outputs named *_bytes are
    base64-encoded in the response, one prediction per instance."""
    instances = json.loads(body)["instances"]
    inputs = [base64.b64decode(i["b64"]) if isinstance(i, dict) else i for i in instances]
    outputs = signature(image_bytes=tf.constant(inputs))
    predictions = [
        {key: {"b64": base64.b64encode(value[i].numpy()).decode()} if key.endswith("_bytes")
         else value[i].numpy().tolist() for key, value in outputs.items()}
        for i in range(len(inputs))
    ]
    return json.dumps({"predictions": predictions})


def test_rest_body_with_b64_images(runs, tmp_path):
    run_dir, model = runs["cyclegan"]
    signature = tf.saved_model.load(export.export(run_dir, str(tmp_path), "a2b")).signatures["serving_default"]
    pixels = [random_pixels(31, 45, 3, seed) for seed in (1, 2)]
    body = json.dumps({"instances": [{"b64": base64.b64encode(png_bytes(p)).decode()} for p in pixels]})
    response = json.loads(tf_serving_rest(signature, body))
    expected = in_process(model, "a2b", np.stack(pixels).astype(np.float32) / 127.5 - 1.0)
    for prediction, want in zip(response["predictions"], expected, strict=True):
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(prediction["image_bytes"]["b64"]))))
        assert image.shape == (31, 45, 3)
        assert np.abs(image - as_png_levels(want)).max() <= 1
        np.testing.assert_allclose(prediction["image"], want, atol=1e-5)


def test_grpc_predict_request(runs, tmp_path):
    from tensorflow_serving.apis import predict_pb2

    run_dir, _ = runs["unit"]
    path = export.export(run_dir, str(tmp_path), "b2a")
    encoded = png_bytes(random_pixels(9, 14, 1))
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "unit_b2a", "serving_default"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([encoded]))
    # What the server does with the request: the named inputs as tensors into the signature.
    signature = tf.saved_model.load(path).signatures[request.model_spec.signature_name]
    outputs = signature(**{key: tf.make_ndarray(proto) for key, proto in request.inputs.items()})
    assert tf.io.decode_png(outputs["image_bytes"][0]).shape == (9, 14, 3)
    assert outputs["image"].shape == (1, 9, 14, 3)


@pytest.mark.parametrize("size", [(250, 173), (1, 1), (2, 5)])
def test_any_size_comes_back_at_its_own_size(runs, tmp_path, size):
    # The UNIT b2a export reads 1-channel images; a 1x1 image is mirrored up to the multiple.
    run_dir, model = runs["unit"]
    signature = tf.saved_model.load(export.export(run_dir, str(tmp_path), "b2a")).signatures["serving_default"]
    pixels = random_pixels(*size, 1)
    outputs = signature(image_bytes=tf.constant([png_bytes(pixels)]))
    assert outputs["image"].shape == (1, *size, 3)
    np.testing.assert_allclose(
        outputs["image"], in_process(model, "b2a", pixels[None].astype(np.float32) / 127.5 - 1.0), atol=1e-5)


@pytest.mark.parametrize("payload, message", [
    (b"definitely not an image, just some text", "not a PNG, JPEG, BMP or GIF image"),
    (b"\x89PNG\r\n\x1a\n" + bytes(8), "not a PNG, JPEG, BMP or GIF image"),  # truncated header
])
def test_corrupt_bytes_are_refused_with_a_clear_error(runs, tmp_path, payload, message):
    signature = tf.saved_model.load(export.export(runs["cyclegan"][0], str(tmp_path), "a2b")).signatures[
        "serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        signature(image_bytes=tf.constant([payload]))


def test_images_over_the_pixel_limit_are_refused_before_decoding(runs, tmp_path):
    signature = tf.saved_model.load(
        export.export(runs["cyclegan"][0], str(tmp_path), "a2b", max_pixels=1000)).signatures["serving_default"]
    assert signature(image_bytes=tf.constant([png_bytes(random_pixels(25, 40, 3))]))["image"].shape == (1, 25, 40, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"more pixels than the limit of this export \(1000\)"):
        signature(image_bytes=tf.constant([png_bytes(random_pixels(25, 41, 3))]))


def test_one_request_of_mixed_sizes_is_refused(runs, tmp_path):
    signature = tf.saved_model.load(export.export(runs["cyclegan"][0], str(tmp_path), "a2b")).signatures[
        "serving_default"]
    images = [png_bytes(random_pixels(8, 8, 3)), png_bytes(random_pixels(8, 12, 3))]
    with pytest.raises(tf.errors.InvalidArgumentError, match="must share one size"):
        signature(image_bytes=tf.constant(images))


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "BMP", "GIF"])
def test_image_size_is_read_from_every_formats_header(image_format):
    buffer = io.BytesIO()
    Image.fromarray(random_pixels(37, 300, 3)).save(buffer, format=image_format)
    np.testing.assert_array_equal(images.header_size(tf.constant(buffer.getvalue())), [37, 300])

def test_exports_record_their_mode_and_run_it(runs, tmp_path):
    """inference.mode in exports (see test_inference_mode.py)."""
    run_dir, model = runs["pix2pix"]  # a batch-norm U-Net (at 32 px without dropout)
    batch = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    base = str(tmp_path / "models")
    paths = {mode: export.export(run_dir, base, mode=mode, name=f"m_{mode}") for mode in ("eval", "train")}
    for mode, path in paths.items():
        assert json.load(open(os.path.join(path, "assets", "tfi2i.json")))["inference_mode"] == mode
    train, evaluated = translators.load(paths["train"]), translators.load(paths["eval"])
    assert (train.mode, evaluated.mode) == ("train", "eval")
    # Each image by its own statistics, as the generator in training mode on that image alone.
    generator = model.translator("a2b")
    before = [v.numpy().copy() for v in generator.variables]
    alone = np.concatenate([generator(image[None], training=True).numpy() for image in batch])
    for v, b in zip(generator.variables, before):
        v.assign(b)  # training mode moved the moving statistics; put them back
    np.testing.assert_allclose(train(batch).numpy(), alone, atol=1e-5)
    np.testing.assert_allclose(evaluated(batch).numpy(), generator(batch, training=False).numpy(), atol=1e-5)
    assert np.abs(train(batch).numpy() - evaluated(batch).numpy()).max() > 1e-2
    with pytest.raises(Tfi2iError, match=r"runs in inference mode 'train', not 'eval'; drop --mode or export the run "
                                         r"again with --mode eval"):
        translators.load(paths["train"], mode="eval")
