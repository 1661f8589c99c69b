"""Operators of onnxruntime-extensions' ``ai.onnx.contrib`` domain that text models embed:
string operators, BertTokenizer and GPT2Tokenizer. Their behaviour is onnxruntime-extensions' (there is no
written spec); the tests compare each with it, and each module says where onyx differs.
"""
