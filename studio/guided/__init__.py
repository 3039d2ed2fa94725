"""Schema-guided decoding: answers that can only be one fenced block of real types, arguments and fields.

    >>> from studio import generation
    >>> settings = generation.Settings(max_new_tokens=384, guided=True)     # the one switch
    >>> generation.generate(model, tokenizer, chats, settings, kinds=["terraform", "kubernetes"])

- `grammars`: the grammars of both kinds, generated from the AWS provider schema (`terraform_grammar`) and the
  Kubernetes schemas (`kubernetes_grammar`) as GBNF and Lark, cached per schema version in the workspace.
- `decoding`: the transformers logits processor (llguidance by default, xgrammar to compare), and
  `guided_generate` for callers that own the `generate` call (TRL's GRPOTrainer).
- `gbnf`: helpers to write GBNF.

`python bench/guided.py` measures the engines and the cost against unguided generation.
"""
