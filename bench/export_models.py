"""Export the benchmark's models into bench/.cache (development time only, not CI).

Needs PyTorch, transformers, onnxscript and skl2onnx (see docs/benchmark.md for the environment):
    python bench/export_models.py [NAME ...]

Every network is built from its configuration with random weights (nothing is downloaded):
vision models at 224x224, BERT-base and DistilBERT at sequence 128, GPT-2 small at sequence
64, Whisper-tiny's encoder (30 s of audio, 1,500 positions), a 2-layer LSTM, a bidirectional
GRU; scikit-learn models are trained on synthetic data and converted with skl2onnx.
Networks are exported with the legacy TorchScript exporter (``NAME``) and with PyTorch's
current default, ``dynamo=True`` (``NAME_dynamo``, its default opset). bench/quantize_models.py
then writes quantized variants of some of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CACHE = Path(__file__).parent / ".cache"
OPSET = 17


DYNAMO = "_dynamo"


def _export_torch(name: str, module, example: tuple, input_names: list[str]) -> None:
    """``module`` exported to bench/.cache/NAME.onnx: by the dynamo exporter (its default opset)
    when NAME ends in _dynamo, else by the legacy exporter at OPSET."""
    import torch

    module.eval()
    dynamo = name.endswith(DYNAMO)
    options = {"dynamo": True} if dynamo else {"dynamo": False, "opset_version": OPSET}
    with torch.no_grad():
        torch.onnx.export(module, example, str(CACHE / f"{name}.onnx"), input_names=input_names, **options)


def last_hidden(model):
    """``model`` wrapped so the export sees one plain tensor output (its last hidden state)."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            return self.model(*args, return_dict=False)[0]

    return LastHidden()


def vision_module(name: str):
    """A vision network from its transformers configuration (random weights), its last hidden state as output."""
    import transformers as tf

    configs = {
        "resnet50": lambda: tf.ResNetModel(tf.ResNetConfig(depths=[3, 4, 6, 3], layer_type="bottleneck")),
        "mobilenetv2": lambda: tf.MobileNetV2Model(tf.MobileNetV2Config()),
        "convnext_tiny": lambda: tf.ConvNextModel(tf.ConvNextConfig(depths=[3, 3, 9, 3], hidden_sizes=[96, 192, 384, 768])),
        "vit_b16": lambda: tf.ViTModel(tf.ViTConfig(), add_pooling_layer=False),
    }
    return last_hidden(configs[name]())


def vision(name: str) -> None:
    import torch

    torch.manual_seed(0)
    _export_torch(name, vision_module(name.removesuffix(DYNAMO)), (torch.randn(1, 3, 224, 224),), ["pixel_values"])


TEXT_SEQUENCE = {"bert_base": 128, "distilbert": 128, "gpt2": 64}


def text_module(name: str):
    """A text network from its transformers configuration (random weights), its last hidden state as output."""
    import transformers as tf

    configs = {
        "bert_base": lambda: tf.BertModel(tf.BertConfig(), add_pooling_layer=False),
        "distilbert": lambda: tf.DistilBertModel(tf.DistilBertConfig()),
        "gpt2": lambda: tf.GPT2Model(tf.GPT2Config()),
    }
    return last_hidden(configs[name]())


def text(name: str) -> None:
    import torch

    base = name.removesuffix(DYNAMO)
    torch.manual_seed(0)
    module = text_module(base)
    ids = torch.randint(0, 1000, (1, TEXT_SEQUENCE[base]))
    _export_torch(name, module, (ids,), ["input_ids"])


def whisper_encoder(name: str) -> None:
    """Whisper-tiny's encoder (4 layers, 6 heads of 64) on 30 s of 80-bin log-mel features."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    encoder = tf.WhisperModel(tf.WhisperConfig(d_model=384, encoder_layers=4, encoder_attention_heads=6,
                                               encoder_ffn_dim=1536, decoder_layers=4, decoder_attention_heads=6,
                                               decoder_ffn_dim=1536)).get_encoder()
    _export_torch(name, last_hidden(encoder), (torch.randn(1, 80, 3000),), ["input_features"])


def recurrent(name: str) -> None:
    import torch

    class Recurrent(torch.nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            return self.cell(x)[0]

    torch.manual_seed(0)
    cells = {
        "lstm_2layer": torch.nn.LSTM(128, 256, num_layers=2, batch_first=True),
        "gru_bidirectional": torch.nn.GRU(128, 256, bidirectional=True, batch_first=True),
    }
    _export_torch(name, Recurrent(cells[name]), (torch.randn(1, 64, 128),), ["x"])


def sklearn_model(name: str) -> None:
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.svm import SVC

    if name == "gradient_boosting":
        x, y = make_regression(n_samples=2000, n_features=20, random_state=0)
        model = GradientBoostingRegressor(n_estimators=100, random_state=0).fit(x, y)
    else:
        x, y = make_classification(n_samples=2000, n_features=20, n_informative=10, random_state=0)
        model = (RandomForestClassifier(n_estimators=100, random_state=0) if name == "random_forest"
                 else SVC(probability=True, random_state=0)).fit(x, y)
    options = {id(model): {"zipmap": False}} if name != "gradient_boosting" else None
    onx = to_onnx(model, x[:1].astype(np.float32), options=options, target_opset={"": OPSET, "ai.onnx.ml": 3})
    # benchmark a batch of 2,000 rows: fix the batch dimension so inputs are generated at that size
    onx.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2000
    (CACHE / f"{name}.onnx").write_bytes(onx.SerializeToString())


EXPORTERS = {
    **{n: vision for n in ["resnet50", "mobilenetv2", "convnext_tiny", "vit_b16"]},
    **{n: text for n in ["bert_base", "distilbert", "gpt2"]},
    "whisper_tiny_encoder": whisper_encoder,
    **{n: recurrent for n in ["lstm_2layer", "gru_bidirectional"]},
    **{n: sklearn_model for n in ["random_forest", "gradient_boosting", "svc"]},
}
# the transformers networks again, from PyTorch's current default exporter
EXPORTERS.update({n + DYNAMO: EXPORTERS[n] for n in ["resnet50", "mobilenetv2", "convnext_tiny", "vit_b16",
                                                       "bert_base", "gpt2", "whisper_tiny_encoder"]})


def main(names: list[str]) -> None:
    CACHE.mkdir(exist_ok=True)
    for name in names or list(EXPORTERS):
        print(f"exporting {name}", flush=True)
        EXPORTERS[name](name)


if __name__ == "__main__":
    main(sys.argv[1:])
