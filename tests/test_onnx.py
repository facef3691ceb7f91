"""Tests of the user ONNX image model in roco.classify, on tiny ONNX graphs the tests build."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

onnx = pytest.importorskip("onnx", reason="the onnx package builds the test models")
pytest.importorskip("onnxruntime", reason="onnxruntime runs user models")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402 (after the importorskip)

from roco.classify import (  # noqa: E402
    ClassifyConfig,
    classify_chunk,
    classify_image,
    load_model,
)
from roco.cli import main  # noqa: E402
from roco.onnx_model import OnnxModelError, OnnxSpec, load_onnx, onnx_spec  # noqa: E402

CFG = ClassifyConfig()
REPO = Path(__file__).resolve().parents[1]
PLAIN = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}  # pixels as 0..1, easy to predict


def brightness_model(
    path: Path,
    gain: float = 1.0,
    channels_first: bool = True,
    size: tuple = (32, 32),
    softmax: bool = False,
    channels: int = 3,
) -> Path:
    """A two-class classifier: radiology logit = gain * (sum of the channel means), other = 0.

    With PLAIN normalisation a white image has radiology log-odds 3 * gain, a black one 0.
    """
    shape = ["N", channels, *size] if channels_first else ["N", *size, channels]
    axes = [2, 3] if channels_first else [1, 2]
    weights = np.zeros((channels, 2), dtype=np.float32)
    weights[:, 1] = gain
    nodes = [
        helper.make_node("ReduceMean", ["pixels"], ["means"], axes=axes, keepdims=0),
        helper.make_node("MatMul", ["means", "w"], ["logits"]),
    ]
    output = "logits"
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
        output = "probabilities"
    graph = helper.make_graph(
        nodes,
        "brightness",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def png(value: int, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buffer, "PNG")
    return buffer.getvalue()


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def model():
    return load_model(None)


def test_replace_mode_uses_only_the_onnx_model(tmp_path, model):
    user = load_onnx(OnnxSpec(brightness_model(tmp_path / "m.onnx"), mode="replace", **PLAIN))
    white = classify_image(png(255), "", model, CFG, user)
    black = classify_image(png(0), "", model, CFG, user)
    assert white.radiology_score == pytest.approx(1 / (1 + math.exp(-3)), abs=1e-5)
    assert black.radiology_score == pytest.approx(0.5, abs=1e-5)


def test_combine_mode_averages_log_odds_with_the_built_in_model(tmp_path, model):
    user = load_onnx(OnnxSpec(brightness_model(tmp_path / "m.onnx", gain=2.0), **PLAIN))
    alone = classify_image(png(255), "", model, CFG)
    both = classify_image(png(255), "", model, CFG, user)
    expected = (logit(alone.radiology_score) + 6) / 2
    assert logit(both.radiology_score) == pytest.approx(expected, abs=1e-3)
    assert both.compound_score == alone.compound_score  # the compound model stays built in


def test_normalisation_and_channels_last_layout(tmp_path):
    path = brightness_model(tmp_path / "m.onnx", channels_first=False)
    user = load_onnx(OnnxSpec(path, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    assert not user.channels_first and user.size == (32, 32)
    # white: (1 - 0.5) / 0.25 = 2 per channel, three channels
    assert user.log_odds(np.full((10, 10, 3), 255, np.uint8)) == pytest.approx(6.0, abs=1e-4)


def test_probability_output_gives_the_same_log_odds_as_logits(tmp_path):
    logits = load_onnx(OnnxSpec(brightness_model(tmp_path / "a.onnx"), **PLAIN))
    softmax = brightness_model(tmp_path / "b.onnx", softmax=True)
    probabilities = load_onnx(OnnxSpec(softmax, output="probabilities", **PLAIN))
    rgb = np.full((20, 30, 3), 200, np.uint8)
    assert probabilities.log_odds(rgb) == pytest.approx(logits.log_odds(rgb), abs=1e-4)


def test_onnx_model_can_reject_what_the_built_in_model_keeps(tmp_path, model):
    figures = pd.DataFrame(
        {
            "pmcid": ["PMC1", "PMC1"],
            "version": [1, 1],
            "id": ["PMC1_f1", "PMC1_f2"],
            "caption": ["Axial CT of the chest shows a mass (arrow).", ""],
            "image": [png(40), png(40)],
        }
    )
    negative = brightness_model(tmp_path / "m.onnx", gain=-1000.0)
    user = load_onnx(OnnxSpec(negative, mode="replace", **PLAIN))
    kept, rejects = classify_chunk(figures, model, ClassifyConfig(caption_weight=0.0), user)
    assert kept.empty
    assert rejects["reason"].tolist() == ["not_radiology", "not_radiology"]


def test_the_same_model_and_image_give_the_same_score(tmp_path, model):
    path = brightness_model(tmp_path / "m.onnx", gain=0.7)
    scores = [
        classify_image(png(123), "", model, CFG, load_onnx(OnnxSpec(path))).radiology_score
        for _ in range(2)
    ]
    assert scores[0] == scores[1]


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(OnnxModelError, match="cannot load ONNX model"):
        load_onnx(OnnxSpec(bad))
    with pytest.raises(OnnxModelError, match="cannot load ONNX model"):
        load_onnx(OnnxSpec(tmp_path / "missing.onnx"))


def test_wrong_input_shapes_are_clear_errors(tmp_path):
    fixed = brightness_model(tmp_path / "fixed.onnx", size=(32, 32))
    with pytest.raises(OnnxModelError, match="configured input size"):
        load_onnx(OnnxSpec(fixed, input_size=(64, 64)))
    grey = brightness_model(tmp_path / "grey.onnx", channels=1)
    with pytest.raises(OnnxModelError, match="not an RGB image batch"):
        load_onnx(OnnxSpec(grey))
    dynamic = brightness_model(tmp_path / "dynamic.onnx", size=("H", "W"))
    with pytest.raises(OnnxModelError, match="onnx_input_size"):
        load_onnx(OnnxSpec(dynamic))
    assert load_onnx(OnnxSpec(dynamic, input_size=(40, 50))).size == (40, 50)


def test_radiology_index_and_mode_are_checked(tmp_path):
    path = brightness_model(tmp_path / "m.onnx")
    with pytest.raises(OnnxModelError, match="onnx_radiology_index=2"):
        load_onnx(OnnxSpec(path, radiology_index=2))
    with pytest.raises(OnnxModelError, match="onnx_mode"):
        load_onnx(OnnxSpec(path, mode="average"))


def test_spec_from_the_config_section(tmp_path):
    settings = {
        "onnx_model": None,
        "onnx_mode": "replace",
        "onnx_input_size": [224, 200],
        "onnx_mean": [0.5, 0.5, 0.5],
        "onnx_std": [0.5, 0.5, 0.5],
        "onnx_radiology_index": 0,
        "onnx_output": "probabilities",
    }
    assert onnx_spec(settings, settings["onnx_model"]) is None
    spec = onnx_spec(settings, tmp_path / "m.onnx")
    assert spec == OnnxSpec(
        tmp_path / "m.onnx", "replace", (224, 200), (0.5,) * 3, (0.5,) * 3, 0, "probabilities"
    )


def test_cli_classify_with_onnx(tmp_path, capsys):
    image = tmp_path / "white.png"
    image.write_bytes(png(255))
    path = brightness_model(tmp_path / "m.onnx", gain=-1000.0)
    assert main(["classify", str(image), "--onnx", str(path), "--onnx-mode", "replace"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert result["radiology_score"] == 0.0 and result["reason"] == "not_radiology"
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nope")
    assert main(["classify", str(image), "--onnx", str(bad)]) == 2
    assert "cannot load ONNX model" in capsys.readouterr().err


@pytest.mark.workflow
@pytest.mark.slow
def test_workflow_classify_uses_the_configured_model_and_reruns_when_it_changes(tmp_path):
    from workflow_helpers import snakemake, write_config

    path = brightness_model(tmp_path / "user.onnx", gain=1000.0)
    classify = yaml.safe_load((REPO / "config.yaml").read_text())["classify"]
    classify.update(onnx_model=str(path), onnx_mode="replace", onnx_mean=[0] * 3, onnx_std=[1] * 3)
    config = write_config(tmp_path, classify=classify, keep_intermediates=True)
    snakemake(config)
    chunks = sorted((tmp_path / "results").rglob("hashed.parquet"))
    kept = pd.concat([pd.read_parquet(p) for p in chunks])
    rejects = pd.concat([pd.read_parquet(p.with_name("classify_rejects.parquet")) for p in chunks])
    # Every figure that is not compound is radiology to this model, whatever its caption says.
    assert len(kept) > 0 and (kept["radiology_score"] > 0.99).all()
    assert "not_radiology" not in set(rejects["reason"])
    brightness_model(path, gain=-1000.0)
    dry = snakemake(config, "-n", "--quiet", "rules").stdout
    jobs = {line.split()[0] for line in dry.splitlines() if line[:1].isalpha() and " " in line}
    assert "classify" in jobs and not {"train_classifier", "extract"} & jobs
