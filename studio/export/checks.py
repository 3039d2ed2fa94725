"""How an export shows it is the model that was trained: logits and greedy tokens, side by side.

    >>> from studio.export import checks
    >>> prompts = checks.check_prompts(tokenizer)          # three IaC requests as chat token ids
    >>> reference = checks.run(peft_model, prompts)        # fp32 logits over each prompt + greedy tokens
    >>> checks.compare("merged", reference, checks.run(merged, prompts)).largest_logit_difference
    2.86102294921875e-06

Token ids go in, not text: every model of a comparison sees exactly the same input, so a difference is the
weights' and never a tokenizer's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from studio import chat

# Short, so the check costs seconds; one per language the studio trains, plus one with numbers in it.
CHECK_REQUESTS = (
    ("terraform", "An S3 bucket for application logs with versioning enabled."),
    ("kubernetes", "A Deployment of nginx:1.27 with 3 replicas and a ClusterIP Service on port 80."),
    ("terraform", "A security group allowing HTTPS from 0.0.0.0/0 and SSH from 10.0.0.0/8."),
)
NEW_TOKENS = 16


@dataclass
class Run:
    """What one model computed: logits over every prompt position (fp32) and a greedy continuation."""

    logits: list[np.ndarray]
    greedy: list[list[int]]


@dataclass
class Comparison:
    """One round trip judged against its reference: the largest logit difference and the greedy agreement."""

    label: str
    largest_logit_difference: float
    greedy_tokens_agreeing: int  # the common prefix, summed over prompts
    greedy_tokens: int
    prompts: int

    @property
    def greedy_identical(self) -> bool:
        return self.greedy_tokens_agreeing == self.greedy_tokens

    def as_dict(self) -> dict:
        return asdict(self) | {"greedy_identical": self.greedy_identical}


def check_prompts(tokenizer) -> list[list[int]]:
    """The check requests rendered through the model's chat template, as token ids."""
    prompts = []
    for kind, request in CHECK_REQUESTS:
        text = tokenizer.apply_chat_template(chat.messages_for(request, kind), tokenize=False, add_generation_prompt=True)
        prompts.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return prompts


def run(model, prompts: list[list[int]], new_tokens: int = NEW_TOKENS) -> Run:
    """Logits over each prompt and `new_tokens` of argmax continuation, computed in fp32 on the model's device.

    A plain argmax loop rather than `generate`: no end-of-sequence stop and no logits processors, the same
    thing `gguf.run_with_llama_cpp` does in llama.cpp, so the two can be compared token for token.
    """
    import torch

    device = next(model.parameters()).device
    logits, greedy = [], []
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([prompt], device=device)
            out = model(input_ids=ids, use_cache=True)
            logits.append(out.logits[0].float().cpu().numpy())
            past, produced = out.past_key_values, []
            token = int(out.logits[0, -1].argmax())
            for step in range(new_tokens):
                produced.append(token)
                if step + 1 == new_tokens:
                    break
                out = model(input_ids=torch.tensor([[token]], device=device), past_key_values=past, use_cache=True)
                past, token = out.past_key_values, int(out.logits[0, -1].argmax())
            greedy.append(produced)
    return Run(logits, greedy)


def largest_difference(reference: list[np.ndarray], candidate: list[np.ndarray]) -> float:
    """The largest absolute logit difference over every prompt, position and vocabulary entry."""
    return max(float(np.abs(a.astype(np.float32) - b.astype(np.float32)).max()) for a, b in zip(reference, candidate))


def agreeing_prefix(a: list[int], b: list[int]) -> int:
    """How many tokens two greedy continuations share before they part.

    >>> agreeing_prefix([5, 6, 7], [5, 6, 9])
    2
    """
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


def compare(label: str, reference: Run, candidate: Run) -> Comparison:
    return Comparison(
        label=label,
        largest_logit_difference=largest_difference(reference.logits, candidate.logits),
        greedy_tokens_agreeing=sum(agreeing_prefix(a, b) for a, b in zip(reference.greedy, candidate.greedy)),
        greedy_tokens=sum(len(tokens) for tokens in reference.greedy),
        prompts=len(reference.logits),
    )
