"""The model engines (transformers in-process, a vLLM server), their common contract, loading and turns at the GPU."""
