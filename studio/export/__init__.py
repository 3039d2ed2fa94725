"""What the user takes home from a run: merged weights, the adapter, GGUF files, a model card, a hub push.

    >>> from studio.export.build import ExportRequest, build_export
    >>> export = build_export(ExportRequest(run="sft-1", name="iac-smollm2", gguf_types=("F16", "Q8_0", "Q4_1")))
    >>> export.folder
    PosixPath('.../workspace/exports/iac-smollm2')

- `build`: the export folder, written whole or not at all, and the list of exports;
- `merge`: the adapter merged into a full-precision base, checked against base + adapter;
- `gguf`: the GGUF converter (llama, qwen2) and its read-back through transformers and llama.cpp;
- `checks`: logits and greedy tokens of two models on the same token ids;
- `card`: the model card; `serving`: the Ollama Modelfile and the serving commands; `hub`: the push.

Nothing here imports torch or transformers when imported; they load on first use.
"""
