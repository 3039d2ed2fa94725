"""Guided masks computed by worker processes (`studio.guided.shards`): the same answers as one process, token for
token, with the bans, the steering to a missing name and the budget's ending done in the workers."""

import pytest
import torch

from studio import chat, generation
from studio.guided import decoding, shards

WISHES = [
    ("terraform", '```hcl\nresource "aws_security_group_rule" "r" {\n  type = "ingress"\n  from_port = 443\n'
                  '  to_port = 443\n  protocol = "tcp"\n}\n'),  # `}` refused: steered to security_group_id
    ("kubernetes", "```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
                   "  replicas: 3\n"),  # a key repeated in its mapping
    ("terraform", '```hcl\nresource "aws_db_instance" "main" {\n  instance_class = "db.t3.micro"\n'
                  '  db_name = "app"\n  db_name = "app"\n  db_name = "app"\n'),  # an argument set again
    ("terraform", '```hcl\nresource "aws_s3_bucket_versioning" "v" {\n  bucket = "logs"\n}\n'),  # a block lacking one
]
# With the embedded model's tokenizer, whose spaces and words make the way to a missing YAML field
EMBEDDED_WISHES = [
    WISHES[0],
    ("kubernetes", "```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n"
                   "    matchLabels:\n      app: web\n  template:\n    spec:\n      restartPolicy: Always\n"
                   "---\n"),  # the pod spec left without `containers`: steered to it
]


@pytest.fixture(scope="module")
def tiny(tiny_llama):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_llama), AutoTokenizer.from_pretrained(tiny_llama)


def _follow_all(tokenizer, guide, budget_steps: int, wishes=WISHES) -> list[str]:
    """Each row wishes, step by step, for its `wishes` text's tokens (the lowest allowed token where the wish is
    refused); what the guide lets through, per row."""
    tokenizer.padding_side = "left"
    texts = [generation.prompt_text(tokenizer, chat.messages_for("x", kind)) for kind, _ in wishes]
    sequence = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)["input_ids"]
    wishes = [tokenizer.encode(text, add_special_tokens=False) for _, text in wishes]
    start = sequence.shape[1]
    for step in range(budget_steps):
        scores = torch.zeros(len(wishes), len(tokenizer))
        for row, ids in enumerate(wishes):
            if step < len(ids):
                scores[row, ids[step]] = 10.0
        chosen = guide(sequence, scores).argmax(-1, keepdim=True)
        sequence = torch.cat([sequence, chosen], dim=1)
    return tokenizer.batch_decode(sequence[:, start:], skip_special_tokens=True)


def test_worker_masks_are_the_masks_of_one_process(tiny, grammars):
    """Four rows of both kinds, two workers, a budget that ends the answers: each row's text is what one process
    lets through, and the bans and the steering happened (the texts are not the wishes). The workers' counts, most
    of them sent packed (`shards.QUIET`), add up to the one process's."""
    _, tokenizer = tiny
    kinds = [kind for kind, _ in WISHES]
    one = decoding.GuidedLogitsProcessor(tokenizer, kinds, budget=128)
    alone = _follow_all(tokenizer, one, 128)
    guide = shards.ShardedGuide(tokenizer, kinds, budget=128, workers=2)
    split = _follow_all(tokenizer, guide, 128)
    assert split == alone
    assert guide.failed == 0 and guide.repeats_banned > 0
    assert (guide.closed_early, guide.repeats_banned) == (one.closed_early, one.repeats_banned)
    assert all(guide.part_seconds[part] > 0 for part in shards.PARTS)
    assert "security_group_id" in alone[0] and "versioning_configuration" in alone[3], alone
    assert alone[1].count("  replicas:") == 1, alone[1]
    assert alone[2].count("db_name") == 1, alone[2]
    assert all(text.endswith("```") for text in alone[:3]), alone  # walked out and closed by the budget
    assert len(shards._POOL) >= 2 and all(worker.alive() for worker in shards._POOL[:2])


def test_workers_steer_a_yaml_line_to_the_field_its_mapping_lacks(embedded_home, grammars, monkeypatch):
    """The steering of a line that would leave a mapping lacking a field (`containers`) chosen on the caller's
    side from the workers' masks, as one process chooses it, with the embedded model's tokenizer."""
    from transformers import AutoTokenizer

    from studio import models

    monkeypatch.setenv("INFRAMIND_HOME", str(embedded_home))
    tokenizer = AutoTokenizer.from_pretrained(models.materialize_embedded())
    kinds = [kind for kind, _ in EMBEDDED_WISHES]
    alone = _follow_all(tokenizer, decoding.GuidedLogitsProcessor(tokenizer, kinds), 96, EMBEDDED_WISHES)
    split = _follow_all(tokenizer, shards.ShardedGuide(tokenizer, kinds, workers=2), 96, EMBEDDED_WISHES)
    assert split == alone
    assert "security_group_id" in alone[0] and "\n      containers" in alone[1], alone


def test_the_workers_take_the_callers_settings(tiny, grammars, monkeypatch):
    """A setting of `studio.guided.decoding` changed in the caller (here the repeat bans, off) reaches the workers."""
    _, tokenizer = tiny
    kinds = [kind for kind, _ in WISHES]
    monkeypatch.setattr(decoding, "REPEAT_BANS", False)
    monkeypatch.setattr(decoding, "REQUIRED_BANS", False)
    alone = _follow_all(tokenizer, decoding.GuidedLogitsProcessor(tokenizer, kinds), 96)
    split = _follow_all(tokenizer, shards.ShardedGuide(tokenizer, kinds, workers=2), 96)
    assert split == alone
    assert alone[2].count("db_name") == 3, alone[2]  # unbanned


def test_the_studio_decoder_writes_the_same_guided_answers_with_workers(tiny_llama, tiny_adapter, grammars,
                                                                        byte_matchers, monkeypatch):
    from studio import models

    model, tokenizer = models.load_with_adapter(str(tiny_llama), str(tiny_adapter))
    chats = [chat.messages_for("A versioned S3 bucket for logs", "terraform"), chat.messages_for("nginx", "kubernetes"),
             chat.messages_for("An SQS queue with a dead-letter queue", "terraform"),
             chat.messages_for("a CronJob every hour", "kubernetes")]
    kinds = ["terraform", "kubernetes", "terraform", "kubernetes"]
    settings = generation.Settings(max_new_tokens=40, guided=True)
    monkeypatch.setenv(shards.WORKERS_ENV, "0")
    alone = generation.generate(model, tokenizer, chats, settings, batch_size=4, kinds=kinds, decoder="studio")
    monkeypatch.setenv(shards.WORKERS_ENV, "2")
    split = generation.generate(model, tokenizer, chats, settings, batch_size=4, kinds=kinds, decoder="studio")
    assert split.answers == alone.answers
    for kind, answer in zip(kinds, split.answers):
        assert answer.startswith("```") and byte_matchers[kind](answer, whole=False) is None, answer


def test_a_worker_that_dies_is_reported_and_replaced(tiny, grammars):
    _, tokenizer = tiny
    kinds = [kind for kind, _ in WISHES]
    guide = shards.ShardedGuide(tokenizer, kinds, workers=2)
    _follow_all(tokenizer, guide, 2)
    guide._pool[0].process.kill()
    guide._pool[0].process.wait()
    with pytest.raises(decoding.GuidedDecodingError, match=shards.WORKERS_ENV):
        _follow_all(tokenizer, guide, 1)
    # the next batch starts a new worker in its place
    fresh = shards.ShardedGuide(tokenizer, kinds, workers=2)
    assert _follow_all(tokenizer, fresh, 3) == _follow_all(tokenizer, decoding.GuidedLogitsProcessor(tokenizer, kinds), 3)


def test_workers_only_where_a_gpu_decodes_a_batch_worth_splitting(monkeypatch):
    monkeypatch.delenv(shards.WORKERS_ENV, raising=False)
    assert shards.default_workers(64, torch.device("cpu")) == 0  # the model's matrix products use the cores
    monkeypatch.setattr(shards, "AUTO_ON_GPU", True)
    monkeypatch.setattr(shards.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert shards.default_workers(2, "cuda") == 0  # one row a worker: the messages cost more than the masks
    assert shards.default_workers(32, "cuda") == 14  # two cores left to the process that drives the card
    assert shards.default_workers(12, "cuda") == 6
    monkeypatch.setenv(shards.WORKERS_ENV, "3")
    assert shards.default_workers(64, torch.device("cpu")) == 3


def test_prepared_workers_are_ready_before_the_first_batch(tiny, grammars):
    """`prepare` starts the workers and has each compile and warm its grammars (seed answers walked through the
    masks) without waiting; the first batch then compiles nothing and writes what one process writes."""
    _, tokenizer = tiny
    kinds = [kind for kind, _ in WISHES]
    shards.stop()
    pool = shards.prepare(tokenizer, len(tokenizer), 2)  # returns at once: a thread sends the messages
    shards._sent()
    assert len(pool) == 2 and all(worker.pending == 5 for worker in pool)  # the tokenizer; per kind grammar, warm
    assert all(worker.settle() > 0 and worker.pending == 0 for worker in pool)  # each compiled and walked
    guide = shards.ShardedGuide(tokenizer, kinds, budget=128, workers=2)
    split = _follow_all(tokenizer, guide, 128)
    assert guide.compile_seconds == 0.0
    assert split == _follow_all(tokenizer, decoding.GuidedLogitsProcessor(tokenizer, kinds, budget=128), 128)
    shards.stop()
    assert shards._POOL == [] and all(not worker.alive() for worker in pool)


def test_warming_walks_seed_answers_through_every_mask(tiny, grammars, monkeypatch):
    """`decoding.warm` compiles the grammar, then walks the longest seed answers of the kind through a processor
    (grammar, bans, the budget's ending) without a token refused; once per process."""
    _, tokenizer = tiny
    walked = []
    real = decoding.GuidedLogitsProcessor.fill

    def fill(self, input_ids, scores=None):
        walked.append(self)
        return real(self, input_ids, scores)

    monkeypatch.setattr(decoding.GuidedLogitsProcessor, "fill", fill)
    monkeypatch.setattr(decoding, "_WARMED", set())
    compiling, walking = decoding.warm(tokenizer, "kubernetes", len(tokenizer), answers=1)
    assert walking > 0
    processors = list(dict.fromkeys(walked))
    assert len(processors) == 2  # the first mask alone, then one seed answer
    longest = max(decoding._seed_answers("kubernetes", 50), key=len)
    assert processors[1].seen == len(tokenizer.encode(longest, add_special_tokens=False)) + 1
    assert all(p.failed == 0 for p in processors) and processors[1]._repeats[0] is not None
    assert decoding.warm(tokenizer, "kubernetes", len(tokenizer)) == (0.0, 0.0)
