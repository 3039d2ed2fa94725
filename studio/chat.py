"""How a request becomes the chat the model sees, the same in training, comparison and evaluation.

    >>> from studio.chat import messages_for
    >>> messages_for("An S3 bucket for logs, versioned", kind="terraform")
    [{'role': 'system', 'content': 'You are an infrastructure engineer. ...'},
     {'role': 'user', 'content': 'An S3 bucket for logs, versioned'}]

One system prompt per language: the fine-tuned model learns to answer it, and the base model gets the same
instructions, so a comparison is fair.
"""

from __future__ import annotations

KINDS = ("terraform", "kubernetes")

SYSTEM_PROMPTS = {
    "terraform": (
        "You are an infrastructure engineer. Answer with Terraform (HCL) for the AWS provider, version 5 or "
        "later, in one ```hcl code block and nothing else. Use only real resource types and arguments."
    ),
    "kubernetes": (
        "You are an infrastructure engineer. Answer with Kubernetes manifests (YAML) for stable API versions, "
        "in one ```yaml code block and nothing else. Use only real kinds and fields."
    ),
}


def user_text(instruction: str, input_text: str = "") -> str:
    """The user turn of an Alpaca row: the instruction, then its input (context or code) when there is one."""
    instruction = instruction.strip()
    input_text = (input_text or "").strip()
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def messages_for(instruction: str, kind: str = "terraform", input_text: str = "") -> list[dict]:
    """The system and user messages for a request in `kind` ("terraform" or "kubernetes")."""
    if kind not in SYSTEM_PROMPTS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return [
        {"role": "system", "content": SYSTEM_PROMPTS[kind]},
        {"role": "user", "content": user_text(instruction, input_text)},
    ]
