"""A user's ONNX image classifier as the radiology image evidence (optional, onnxruntime).

`OnnxSpec` says how to feed the model (input size, mean/std, channel layout is detected) and
which output is "radiology"; `load_onnx` loads it once per job and checks it on a probe image, so
a wrong model fails at start with a clear `OnnxModelError` rather than in the middle of a chunk.
`OnnxImageModel.log_odds(rgb)` gives the evidence that classify combines with, or uses instead of,
the built-in image model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ONNX_MODES = ("combine", "replace")
ONNX_OUTPUTS = ("logits", "probabilities")
_PROBABILITY_CLIP = 1e-6  # log-odds of a probability of exactly 0 or 1 would be infinite


class OnnxModelError(ValueError):
    """An ONNX model that cannot serve as the image radiology model; the message says why."""


@dataclass(frozen=True)
class OnnxSpec:
    """How to feed a user ONNX image classifier and read its radiology output.

    Input: one float32 tensor (N, 3, H, W) or (N, H, W, 3) of RGB values scaled to 0..1, then
    normalised by mean and std per channel; the figure is resized (stretched) to H x W.
    Output: the first output, (N, K) or (N,); radiology_index picks the radiology column, and
    `output` says whether the values are logits (softmax or, for K = 1, sigmoid) or probabilities.
    """

    path: Path
    mode: str = "combine"
    input_size: tuple[int, int] | None = None  # (height, width); None: the model's fixed size
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet, the common default
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    radiology_index: int = 1
    output: str = "logits"


def onnx_spec(settings: dict, path: Path | str | None) -> OnnxSpec | None:
    """The OnnxSpec of the `classify:` config section (keys onnx_*); None without a model path."""
    if not path:
        return None
    size = settings.get("onnx_input_size")
    return OnnxSpec(
        path=Path(path),
        mode=settings.get("onnx_mode", "combine"),
        input_size=tuple(size) if size else None,
        mean=tuple(settings.get("onnx_mean", OnnxSpec.mean)),
        std=tuple(settings.get("onnx_std", OnnxSpec.std)),
        radiology_index=settings.get("onnx_radiology_index", OnnxSpec.radiology_index),
        output=settings.get("onnx_output", OnnxSpec.output),
    )


@dataclass(frozen=True)
class OnnxImageModel:
    spec: OnnxSpec
    session: object  # onnxruntime.InferenceSession
    input_name: str
    channels_first: bool
    size: tuple[int, int]  # (height, width)

    def tensor(self, rgb: np.ndarray) -> np.ndarray:
        """The model input for one RGB uint8 array (a batch of one)."""
        height, width = self.size
        img = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
        x = np.asarray(img, dtype=np.float32) / np.float32(255)
        x = (x - np.asarray(self.spec.mean, np.float32)) / np.asarray(self.spec.std, np.float32)
        return (x.transpose(2, 0, 1) if self.channels_first else x)[np.newaxis]

    def log_odds(self, rgb: np.ndarray) -> float:
        """Radiology log-odds of one RGB uint8 array."""
        output = self.session.run(None, {self.input_name: self.tensor(rgb)})[0]
        return _output_log_odds(np.asarray(output, dtype=np.float64).reshape(-1), self.spec)


def _output_log_odds(values: np.ndarray, spec: OnnxSpec) -> float:
    if not np.isfinite(values).all():
        raise OnnxModelError(f"{spec.path}: the model output is not finite: {values.tolist()}")
    if spec.output == "probabilities":
        p = float(np.clip(values[spec.radiology_index], _PROBABILITY_CLIP, 1 - _PROBABILITY_CLIP))
        if values.size > 1:
            rest = float(np.clip(values.sum() - values[spec.radiology_index], _PROBABILITY_CLIP, 1))
            return math.log(p) - math.log(rest)
        return math.log(p) - math.log(1 - p)
    if values.size == 1:
        return float(values[0])
    others = np.delete(values, spec.radiology_index)
    top = others.max()
    # log-odds of softmax class i: z_i - log(sum of exp z_j over the other classes)
    return float(values[spec.radiology_index] - top - np.log(np.exp(others - top).sum()))


def load_onnx(spec: OnnxSpec) -> OnnxImageModel:
    """Open an ONNX image classifier and check it against the spec with one probe run.

    Raises OnnxModelError when onnxruntime is missing, the file is not a loadable model, its
    input is not one float image batch of the configured size, or its output has no
    radiology_index column.
    """
    if spec.mode not in ONNX_MODES:
        raise OnnxModelError(f"onnx_mode must be one of {ONNX_MODES}, not {spec.mode!r}")
    if spec.output not in ONNX_OUTPUTS:
        raise OnnxModelError(f"onnx_output must be one of {ONNX_OUTPUTS}, not {spec.output!r}")
    try:
        import onnxruntime
    except ImportError as err:
        raise OnnxModelError(f"an ONNX model is configured, onnxruntime is missing: {err}") from err
    options = onnxruntime.SessionOptions()
    # One thread, as the classify rule is given: results then do not depend on the machine.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            str(spec.path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own pybind11 types (Fail, InvalidProtobuf)
        raise OnnxModelError(f"{spec.path}: cannot load ONNX model: {err}") from err
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)":
        described = [(i.name, i.type, i.shape) for i in inputs]
        raise OnnxModelError(f"{spec.path}: need one float32 image input, not {described}")
    channels_first, size = _image_input(spec, inputs[0].shape)
    model = OnnxImageModel(spec, session, inputs[0].name, channels_first, size)
    _probe(model)
    return model


def _image_input(spec: OnnxSpec, shape: list) -> tuple[bool, tuple[int, int]]:
    """Layout (channels first?) and (height, width) of an image input shape like [N, 3, H, W]."""
    if len(shape) != 4 or 3 not in (shape[1], shape[3]):
        raise OnnxModelError(
            f"{spec.path}: input shape {shape} is not an RGB image batch "
            "(N, 3, H, W) or (N, H, W, 3)"
        )
    channels_first = shape[1] == 3
    declared = shape[2:4] if channels_first else shape[1:3]
    fixed = tuple(d if isinstance(d, int) and d > 0 else None for d in declared)
    if spec.input_size is None:
        if None in fixed:
            raise OnnxModelError(
                f"{spec.path}: input shape {shape} has no fixed height and width: "
                "set classify.onnx_input_size"
            )
        return channels_first, (fixed[0], fixed[1])
    for want, have in zip(spec.input_size, fixed, strict=True):
        if have is not None and have != want:
            raise OnnxModelError(
                f"{spec.path}: input shape {shape} does not take the configured input size "
                f"{list(spec.input_size)} (height, width)"
            )
    return channels_first, (int(spec.input_size[0]), int(spec.input_size[1]))


def _probe(model: OnnxImageModel) -> None:
    """Run the model once on a grey image: shape errors surface here, not mid-chunk."""
    grey = np.full((*model.size, 3), 128, dtype=np.uint8)
    try:
        output = model.session.run(None, {model.input_name: model.tensor(grey)})[0]
    except Exception as err:  # onnxruntime's own error types again
        raise OnnxModelError(f"{model.spec.path}: the model fails on a test image: {err}") from err
    columns = int(np.asarray(output).size)
    if not 0 <= model.spec.radiology_index < columns or (
        columns == 1 and model.spec.radiology_index != 0
    ):
        raise OnnxModelError(
            f"{model.spec.path}: output shape {list(np.asarray(output).shape)} has no column "
            f"onnx_radiology_index={model.spec.radiology_index} (a single output is column 0)"
        )
