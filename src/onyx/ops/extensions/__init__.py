"""Operators of onnxruntime-extensions' ``ai.onnx.contrib`` domain that text models embed:
string operators and the BERT, GPT-2 and SentencePiece tokenizers. Their behaviour is onnxruntime-extensions' (there is no
written spec); the tests compare each with it, and each module says where onyx differs.
"""

DOMAIN = "ai.onnx.contrib"
