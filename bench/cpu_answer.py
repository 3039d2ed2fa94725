"""One greedy answer of the embedded model on the CPU, by engine: today's path (transformers fp32 `generate`,
the Compare tab's) against bf16, int8 weights, the studio's plain decoder (studio.decoder) and llama.cpp on the
embedded GGUF, at 1 and 2 threads. Each row says whether its answer is token for token today's.

    nice -n -5 python bench/cpu_answer.py             # 3 runs per row: best and median new tokens/s
    python bench/cpu_answer.py --runs 1 --tokens 64   # a quick look

The prompt is the first request of data/eval.jsonl through the chat template; up to --tokens new tokens (the
answer may end sooner at its end token; every engine is timed on what it generated). The machine's load is
printed with the figures: on a shared machine, take them as lower bounds.

llama.cpp runs the embedded model's own Q4_1 GGUF and two GGUFs the studio's export writes from the same weights
(F16 and Q8_0, `studio.export.gguf`). "Same answers" counts, over --prompts eval requests (every 15th row), the
answers that are token for token today's. On 2026-12-04 (160 tokens, 8 requests) F16 gave 7 of 8, Q4_1 1 of 8
(its matrix products quantize the activations) and Q8_0 1 of 8.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import chat, dataset, generation, models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--prompts", type=int, default=1, help="eval requests whose answers are compared")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = models.resolve(models.EMBEDDED)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = dataset.read_jsonl(ROOT / "data/eval.jsonl")[::15][: max(1, args.prompts)]
    prompts = [tokenizer(generation.prompt_text(tokenizer, chat.messages_for(r.instruction, r.kind)),
                         add_special_tokens=False)["input_ids"] for r in rows]
    prompt = prompts[0]
    eos = tokenizer.eos_token_id
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; prompt {len(prompt)} tokens, up to "
          f"{args.tokens} new; {args.runs} runs per row", flush=True)

    def hf_engine(model):
        def answer(prompt=prompt):
            ids = torch.tensor([prompt])
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.tokens,
                                     do_sample=False, temperature=None, top_p=None, top_k=None, eos_token_id=eos,
                                     pad_token_id=tokenizer.pad_token_id)
            return out[0, len(prompt):].tolist()
        return answer

    def rollout_engine(model):
        from studio.decoder import Rollout

        engine = Rollout.for_model(model)
        engine.sync(model)
        return lambda prompt=prompt: engine.generate([prompt], args.tokens, 0.0, [eos], tokenizer.pad_token_id)[0]

    def llama_engine(threads, path):
        from studio.llama_engine import open_llama

        llm = open_llama(path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)

        def answer(prompt=prompt):
            llm.reset()
            out = []
            for token in llm.generate(prompt, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
                out.append(token)
                if token == eos or len(out) >= args.tokens:
                    break
            return out
        return answer

    fp32 = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    from studio.export import gguf

    written = Path(tempfile.mkdtemp(prefix="cpu-answer-"))
    ggufs = {"Q4_1 (the embedded file)": models.embedded_gguf()}
    ggufs |= {f"{kind} (studio export)": gguf.write(fp32, tokenizer, written / f"{kind}.gguf", kind)
              for kind in ("F16", "Q8_0")}
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        rows.append((f"transformers fp32 generate (today), {threads} thread(s)", hf_engine(fp32)))
        rows.append((f"studio decoder fp32 (studio.decoder), {threads} thread(s)", rollout_engine(fp32)))
        bf16 = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
        rows.append((f"transformers bf16 generate, {threads} thread(s)", hf_engine(bf16)))
        int8 = torch.ao.quantization.quantize_dynamic(
            AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval(), {torch.nn.Linear},
            dtype=torch.qint8)
        rows.append((f"transformers int8 dynamic generate, {threads} thread(s)", hf_engine(int8)))
        for name, path in ggufs.items():
            rows.append((f"llama.cpp {name}, {threads} thread(s)", llama_engine(threads, path)))
        # each group timed at its own thread count
        reference, references = None, None
        print(f"{'engine':<56} {'best tok/s':>10} {'median':>8} {'tokens':>6}  same answer  same answers",
              flush=True)
        for label, answer in rows:
            torch.set_num_threads(threads)
            answer()  # warm-up
            rates, tokens = [], None
            for _ in range(args.runs):
                began = time.perf_counter()
                tokens = answer()
                rates.append(len(tokens) / (time.perf_counter() - began))
            reference = reference or tokens
            same = "yes" if tokens == reference else f"no (first difference at token " \
                f"{next((i for i, (a, b) in enumerate(zip(tokens, reference)) if a != b), min(len(tokens), len(reference)))})"
            answers = [tokens] + [answer(p) for p in prompts[1:]]
            references = references or answers
            alike = sum(a == b for a, b in zip(answers, references))
            print(f"{label:<56} {max(rates):>10.1f} {statistics.median(rates):>8.1f} {len(tokens):>6}  {same}  "
                  f"{alike} of {len(prompts)}", flush=True)
        rows = []
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
