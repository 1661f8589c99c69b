"""Build the small real models of the benchmark into bench/.cache (development time only, not CI).

    python bench/small_models.py [NAME ...]

Models that onnxruntime runs in well under a millisecond, where a runtime's cost per node
decides the latency: voice activity detection (Silero VAD, the ONNX files its PyPI wheel
ships: the If-heavy opset-16 model and the If-less opset-18 one), a keyword-spotting
conv-GRU and a small LSTM exported here with PyTorch's current default exporter
(``dynamo=True``) and with the legacy TorchScript one, and scikit-learn pipelines converted
with skl2onnx (scaler + PCA + logistic regression; a ColumnTransformer). The wheel comes from
PyPI through pip (``pip download``); nothing else is downloaded. Models whose inputs cannot
be random (Silero's sample rate) get their feeds beside them as ``NAME.feeds.npz``, which
bench/run.py uses. Needs torch (``pip install torch==2.13.0``), onnxscript, scikit-learn and
skl2onnx.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CACHE = Path(__file__).parent / ".cache"
SILERO_WHEEL = "silero-vad==6.2.3"
SILERO_FILES = {"silero_vad": "silero_vad.onnx", "silero_vad_ifless": "silero_vad_op18_ifless.onnx"}
OPSET = 17


def silero(name: str) -> None:
    """Silero VAD from its wheel, with a 512-sample chunk at 16 kHz and a zero state as feeds."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, SILERO_WHEEL],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            (CACHE / f"{name}.onnx").write_bytes(archive.read(f"silero_vad/data/{SILERO_FILES[name]}"))
    audio = np.sin(np.linspace(0, 200, 512, dtype=np.float32))[None] * 0.3
    np.savez(CACHE / f"{name}.feeds.npz", input=audio.astype(np.float32), state=np.zeros((2, 1, 128), np.float32),
             sr=np.array(16000, np.int64))


def _export(module, example: tuple, stem: str, input_names: list[str]) -> None:
    """``module`` exported with both exporters: ``{stem}_dynamo.onnx`` and ``{stem}_legacy.onnx``."""
    import torch

    module.eval()
    with torch.no_grad():
        for exporter, dynamo in (("dynamo", True), ("legacy", False)):
            path = CACHE / f"{stem}_{exporter}.onnx"
            program = torch.onnx.export(module, example, str(path) if not dynamo else None, input_names=input_names,
                                        opset_version=OPSET if not dynamo else 18, dynamo=dynamo)
            if dynamo:
                program.save(str(path))  # weights inside the file, as the legacy exporter writes them


def keyword_spotting(_: str) -> None:
    """A keyword spotter over 40 MFCCs x 98 frames: two 1-D convolutions, a GRU, 12 classes."""
    import torch
    from torch import nn

    class KeywordSpotter(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv1d(40, 64, 3, padding=1), nn.BatchNorm1d(64), nn.ReLU(),
                nn.Conv1d(64, 64, 3, stride=2, padding=1), nn.BatchNorm1d(64), nn.ReLU(),
            )
            self.gru = nn.GRU(64, 64, batch_first=True)
            self.classify = nn.Linear(64, 12)

        def forward(self, mfcc):
            x = self.features(mfcc).transpose(1, 2)
            out, _ = self.gru(x)
            return self.classify(out[:, -1]).softmax(-1)

    torch.manual_seed(0)
    _export(KeywordSpotter(), (torch.randn(1, 40, 98),), "kws_conv_gru", ["mfcc"])


def small_lstm(_: str) -> None:
    """One LSTM layer (hidden 64) over 32 steps of 40 features, and a linear head."""
    import torch
    from torch import nn

    class SmallLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(40, 64, batch_first=True)
            self.head = nn.Linear(64, 8)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out)

    torch.manual_seed(0)
    _export(SmallLSTM(), (torch.randn(1, 32, 40),), "lstm_small", ["x"])


def sklearn_pipeline(name: str) -> None:
    """scaler + PCA + logistic regression, or a ColumnTransformer (two scalers) + PCA + LR, on 16 rows."""
    from skl2onnx import to_onnx
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    x, y = make_classification(n_samples=500, n_features=20, n_informative=8, n_classes=3, random_state=0)
    x = x.astype(np.float32)
    if name == "skl_scaler_pca_lr":
        first = StandardScaler()
    else:
        first = ColumnTransformer([("standard", StandardScaler(), list(range(10))),
                                   ("minmax", MinMaxScaler(), list(range(10, 20)))])
    model = make_pipeline(first, PCA(8), LogisticRegression(max_iter=500)).fit(x, y)
    onx = to_onnx(model, x[:1], options={id(model.steps[-1][1]): {"zipmap": False}},
                  target_opset={"": OPSET, "ai.onnx.ml": 3})
    onx.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 16
    (CACHE / f"{name}.onnx").write_bytes(onx.SerializeToString())


BUILDERS = {
    "silero_vad": silero,
    "silero_vad_ifless": silero,
    "kws_conv_gru": keyword_spotting,
    "lstm_small": small_lstm,
    "skl_scaler_pca_lr": sklearn_pipeline,
    "skl_column_transformer": sklearn_pipeline,
}


def main(names: list[str]) -> None:
    CACHE.mkdir(exist_ok=True)
    for name in names or list(BUILDERS):
        print(f"building {name}", flush=True)
        BUILDERS[name](name)


if __name__ == "__main__":
    main(sys.argv[1:])
