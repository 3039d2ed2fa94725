"""Guided generation on tiny random models: every token stays inside the grammar, and the switch reaches
`generate`, the evaluation, GRPO's rollouts and llama.cpp (which loads the exported GBNF)."""

import json

import pytest

from studio import chat, generation


@pytest.fixture(scope="module")
def tiny(tiny_llama):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_llama), AutoTokenizer.from_pretrained(tiny_llama)


def test_guided_answers_of_a_random_model_stay_in_the_grammar(tiny, grammars, byte_matchers):
    model, tokenizer = tiny
    chats = [chat.messages_for("A versioned S3 bucket", "terraform"),
             chat.messages_for("nginx, 2 replicas", "kubernetes")]
    kinds = ["terraform", "kubernetes"]
    plain = generation.generate(model, tokenizer, chats, generation.Settings(max_new_tokens=40, temperature=1.0))
    guided = generation.generate(model, tokenizer, chats, generation.Settings(max_new_tokens=40, temperature=1.0,
                                                                              guided=True), kinds=kinds)
    # A random model writes anything; guided, it writes the start of an answer of its grammar, and only that.
    assert any(byte_matchers[k](a, whole=False) for k, a in zip(kinds, plain.answers))
    assert guided.answers[0].startswith("```hcl\n") and guided.answers[1].startswith("```yaml\n")
    for kind, answer in zip(kinds, guided.answers):
        assert byte_matchers[kind](answer, whole=False) is None, answer


def test_a_step_asked_twice_is_consumed_once(tiny, grammars):
    """A caller that runs the processors twice on the same sequence (or passes several new tokens at once) still
    feeds the grammar each token exactly once: the row stays guided instead of being refused and let go."""
    import torch

    from studio.guided.decoding import GuidedLogitsProcessor

    model, tokenizer = tiny
    prompt = tokenizer(generation.prompt_text(tokenizer, chat.messages_for("A bucket", "terraform")),
                       return_tensors="pt", add_special_tokens=False)["input_ids"]
    processor = GuidedLogitsProcessor(tokenizer, ["terraform"])
    vocab = model.config.vocab_size
    sequence = prompt
    for _ in range(6):
        scores = processor(sequence, torch.zeros(1, vocab))
        again = processor(sequence, torch.zeros(1, vocab))  # the same step asked twice
        assert torch.equal(torch.isinf(scores), torch.isinf(again))
        token = int(scores[0].argmax())
        sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
    assert processor.failed == 0 and not processor.done[0]
    assert tokenizer.decode(sequence[0, prompt.shape[1]:]).startswith("```")


def test_a_finished_guided_answer_parses(tiny, grammars):
    """The random model, nudged towards the tokens of a real answer (but free to write anything the grammar
    allows), writes complete answers; each one that ends its turn passes the parse check."""
    import torch
    from transformers import LogitsProcessor

    from studio.guided.decoding import GuidedLogitsProcessor
    from studio.iac import validate

    model, tokenizer = tiny
    reference = ('```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "app-logs"\n}\n\nresource '
                 '"aws_s3_bucket_versioning" "logs" {\n  bucket = aws_s3_bucket.logs.id\n}\n```')

    class Nudge(LogitsProcessor):
        def __init__(self):
            self.ids = torch.tensor(sorted(set(tokenizer.encode(reference, add_special_tokens=False))))

        def __call__(self, input_ids, scores):
            scores[:, self.ids] += 6.0
            scores[:, tokenizer.eos_token_id] += 30.0  # allowed only where the answer is complete
            return scores

    tokenizer.padding_side = "left"
    prompts = [generation.prompt_text(tokenizer, chat.messages_for("S3 bucket", "terraform"))] * 8
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    guide = GuidedLogitsProcessor(tokenizer, ["terraform"] * 8)
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=200, do_sample=True, temperature=1.0, top_p=1.0,
                         logits_processor=[Nudge(), guide], pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    assert guide.failed == 0
    finished = [tokenizer.decode(row, skip_special_tokens=True) for row in out[:, inputs["input_ids"].shape[1]:]
                if tokenizer.eos_token_id in row.tolist()]
    with_code = [text for text in finished if validate(text, "terraform").verdicts["extracted"].passed]
    assert with_code, finished
    for text in with_code:
        report = validate(text, "terraform")
        assert report.verdicts["parses"].passed, (text, report.reasons())


def test_the_kind_comes_from_the_system_prompt_when_not_given(tiny, grammars, byte_matchers):
    from studio.guided.decoding import guided_generate, kind_of_prompt

    model, tokenizer = tiny
    assert kind_of_prompt(generation.prompt_text(tokenizer, chat.messages_for("x", "kubernetes"))) == "kubernetes"
    assert kind_of_prompt("plain text") is None
    tokenizer.padding_side = "left"
    inputs = tokenizer([generation.prompt_text(tokenizer, chat.messages_for("x", "kubernetes"))],
                       return_tensors="pt", add_special_tokens=False)
    with guided_generate(model, tokenizer):  # how GRPO's rollouts are guided: TRL passes no processor
        out = model.generate(**inputs, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert answer.startswith("```yaml\n") and byte_matchers["kubernetes"](answer, whole=False) is None
    assert "generate" not in vars(model)  # the model's own generate is back


@pytest.mark.parametrize("rollout", ["trl", "studio"])
def test_grpo_rollouts_are_guided(tiny_llama, tmp_path, grammars, byte_matchers, rollout):
    """One real GRPO step of the studio's guided trainer, its rollouts sampled by TRL's generate or by the studio's
    engine: every sampled completion is the start of an answer of its prompt's grammar."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig

    from jobs.grpo import trainer_class
    from studio.decoder import Rollout
    from studio.guided.decoding import kind_of_prompt

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    seen = []

    def reward_seen(prompts, completions, **kwargs):
        for prompt, completion in zip(prompts, completions):
            seen.append((kind_of_prompt(prompt[0]["content"]), completion[0]["content"]))
        return [0.0] * len(completions)

    rows = Dataset.from_list([{"prompt": chat.messages_for("S3 bucket", "terraform")},
                              {"prompt": chat.messages_for("nginx", "kubernetes")}])
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=12, max_steps=1, logging_steps=1, report_to=[], use_cpu=True,
                      save_strategy="no", temperature=1.0)
    trainer = trainer_class()(model=model, reward_funcs=reward_seen, args=args, train_dataset=rows,
                              processing_class=tokenizer)
    trainer.guided = True
    trainer.rollout = Rollout.for_model(model) if rollout == "studio" else None
    trainer.train()
    assert trainer.timings["generate_s"] > 0
    assert {kind for kind, _ in seen} == {"terraform", "kubernetes"} and len(seen) >= 4
    for kind, text in seen:
        assert byte_matchers[kind](text, whole=False) is None, (kind, text)


def test_llama_cpp_loads_the_exported_gbnf(tmp_path, grammars):
    """The export's GBNF files, as llama.cpp reads them (`--grammar-file`), guide the embedded GGUF model."""
    from llama_cpp import LlamaGrammar

    from studio import models
    from studio.export import serving
    from studio.llama_engine import open_llama

    written = serving.write_grammars(tmp_path, tmp_path / "gguf")
    assert set(written) >= {"gguf/terraform.gbnf", "gguf/kubernetes.gbnf", "grammars/terraform.lark"}
    llm = open_llama(models.embedded_gguf(), n_ctx=512, n_threads=2, verbose=False)
    try:
        for kind, fence in (("kubernetes", "```yaml\napiVersion: "), ("terraform", "```hcl\n")):
            grammar = LlamaGrammar.from_string((tmp_path / "gguf" / f"{kind}.gbnf").read_text(), verbose=False)
            out = llm.create_chat_completion(messages=chat.messages_for("A small web app", kind), grammar=grammar,
                                             max_tokens=12 if kind == "kubernetes" else 4, temperature=0)
            text = out["choices"][0]["message"]["content"]
            assert text.startswith(fence) or fence.startswith(text), text
    finally:
        llm.close()


def test_serving_commands_use_the_grammars(tmp_path, grammars):
    from studio.export import serving

    folder = tmp_path / "iac"
    plain = serving.commands(folder, "iac", ["merged", "gguf"], ["iac-Q8_0.gguf"])
    assert "--grammar-file" not in plain["llama.cpp"] and "structured_outputs" not in plain["vLLM"]
    serving.write_grammars(folder, folder / "gguf")
    found = serving.commands(folder, "iac", ["merged", "gguf"], ["iac-Q8_0.gguf"])
    assert f"--grammar-file {folder / 'gguf' / 'terraform.gbnf'}" in found["llama.cpp"]
    assert '"backend": "guidance"' in found["vLLM"] and str(folder / "grammars" / "terraform.lark") in found["vLLM"]
    assert (folder / "grammars" / "kubernetes.lark").read_text() == grammars["kubernetes"].lark


def _as_transformers_517_converts_it(tokenizer):
    """`tokenizer` with the decoder transformers 5.17 gives SmolLM2's GGUF tokenizer (5.23 gives plain ByteLevel):
    it decodes the same text, but it hid the byte-level vocabulary from llguidance on the GPU device."""
    import copy

    from tokenizers import decoders

    shaped = copy.deepcopy(tokenizer)
    shaped.backend_tokenizer.decoder = decoders.Sequence([
        decoders.ByteFallback(), decoders.Fuse(), decoders.Replace("\u2581", " "), decoders.ByteLevel()])
    return shaped


def test_a_byte_level_vocabulary_is_read_as_bytes_whatever_its_decoder(tiny, grammars):
    import llguidance.hf

    from studio.guided.decoding import llguidance_tokenizer

    _, tokenizer = tiny
    shaped = _as_transformers_517_converts_it(tokenizer)
    newline = tokenizer.convert_tokens_to_ids("\u010a")  # "Ċ": a newline in a byte-level vocabulary
    assert shaped.decode([newline]) == tokenizer.decode([newline]) == "\n"
    # llguidance's own reading of that JSON takes "Ċ" for text: the cause of the device's unguided "guided" rows
    assert llguidance.hf.from_tokenizer(shaped).decode_bytes([newline]) != b"\n"
    for candidate in (tokenizer, shaped):
        lltok = llguidance_tokenizer(candidate, len(candidate))
        assert lltok.decode_bytes([newline]) == b"\n"
        assert lltok.decode_bytes(candidate.encode('resource "aws_s3_bucket" "logs" {\n}', add_special_tokens=False)) \
            == b'resource "aws_s3_bucket" "logs" {\n}'


def test_guided_answers_stay_in_the_grammar_with_the_tokenizer_transformers_517_writes(tiny, grammars, byte_matchers):
    model, tokenizer = tiny
    shaped = _as_transformers_517_converts_it(tokenizer)
    chats = [chat.messages_for("A versioned S3 bucket", "terraform"), chat.messages_for("nginx", "kubernetes")]
    kinds = ["terraform", "kubernetes"]
    guided = generation.generate(model, shaped, chats, generation.Settings(max_new_tokens=40, temperature=1.0,
                                                                           guided=True), kinds=kinds)
    for kind, answer in zip(kinds, guided.answers):
        assert byte_matchers[kind](answer, whole=False) is None, answer


def test_guided_answers_are_the_same_from_either_decoder(tiny_llama, tiny_adapter, grammars, byte_matchers):
    """Guided by the schemas (a logits processor between the forward pass and the choice of token), greedy: the
    studio's decoder writes what `generate` writes, and every answer stays in its grammar."""
    from studio import chat, generation, models

    model, tokenizer = models.load_with_adapter(str(tiny_llama), str(tiny_adapter))
    chats = [chat.messages_for("A versioned S3 bucket for logs", "terraform"), chat.messages_for("nginx", "kubernetes"),
             chat.messages_for("An SQS queue with a dead-letter queue", "terraform", "region eu-west-1")]
    kinds = ["terraform", "kubernetes", "terraform"]
    settings = generation.Settings(max_new_tokens=32, guided=True)
    studio = generation.generate(model, tokenizer, chats, settings, batch_size=3, kinds=kinds, decoder="studio")
    plain = generation.generate(model, tokenizer, chats, settings, batch_size=3, kinds=kinds, decoder="transformers")
    assert studio.decoder == "studio" and studio.answers == plain.answers
    for kind, answer in zip(kinds, studio.answers):
        assert answer.startswith("```") and byte_matchers[kind](answer, whole=False) is None, answer


def test_guided_evaluation_on_llama_cpp_stays_in_the_grammar(home, tiny_llama, grammars, byte_matchers):
    from studio import evaluation

    split = evaluation.load_rows(evaluation.EVAL_SPLIT)
    rows = [next(r for r in split if r.kind == kind) for kind in ("terraform", "kubernetes")]
    results = evaluation.evaluate(rows, evaluation.candidates(str(tiny_llama)),
                                  generation.Settings(max_new_tokens=24, guided=True), answer_engine="llama.cpp")
    assert results.summary["models"][0]["decoder"] == "llama.cpp"
    for row, record in zip(rows, results.rows):
        answer = record["answers"]["base"][0]["text"]
        assert answer.startswith("```"), answer
        assert byte_matchers[row.kind](answer, whole=False) is None, answer


def test_a_guided_answer_closes_its_fence_where_the_budget_would_cut_its_next_block(tiny, grammars):
    """A model that would write three blocks in a budget that holds a block and a half: without a budget the answer
    is cut inside the second block and does not parse; with it the fence closes after the first, and it parses."""
    import torch

    from studio.guided import decoding
    from studio.guided.decoding import GuidedLogitsProcessor
    from studio.iac import validate

    _, tokenizer = tiny
    wanted = ('```hcl\nresource "aws_s3_bucket" "logs" {\n  bucket = "app-logs"\n}\n\n'
              'resource "aws_s3_bucket_versioning" "logs" {\n  bucket = aws_s3_bucket.logs.id\n'
              '  versioning_configuration {\n    status = "Enabled"\n  }\n}\n\n'
              'resource "aws_s3_bucket" "more" {\n  bucket = "more-logs"\n}\n```')
    ids = tokenizer.encode(wanted, add_special_tokens=False)
    prompt = tokenizer(generation.prompt_text(tokenizer, chat.messages_for("x", "terraform")), return_tensors="pt",
                       add_special_tokens=False)["input_ids"]
    first_block = len(tokenizer.encode(wanted[: wanted.index("\n\n") + 1], add_special_tokens=False))
    # The first block and the budget's walk-out window, which the rest of the answer does not fit.
    budget = first_block + decoding.FINISH_WITHIN

    def answer(guide) -> str:
        sequence, out = prompt, []
        for step in range(budget):
            scores = torch.zeros(1, len(tokenizer))
            scores[0, ids[step] if step < len(ids) else tokenizer.eos_token_id] = 10.0  # the model's wish
            token = int(guide(sequence, scores)[0].argmax())
            if token == tokenizer.eos_token_id or generation.closes_fence(tokenizer.decode(out + [token])):
                out.append(token)
                break
            out.append(token)
            sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
        return tokenizer.decode(out, skip_special_tokens=True)

    cut = answer(GuidedLogitsProcessor(tokenizer, ["terraform"]))
    assert not validate(cut, "terraform").verdicts["parses"].passed, cut
    guide = GuidedLogitsProcessor(tokenizer, ["terraform"], budget=budget)
    whole = answer(guide)
    assert guide.closed_early == 1 and whole.endswith('"app-logs"\n}\n```'), whole
    assert validate(whole, "terraform").verdicts["parses"].passed

    # A model looping inside a block (a list that never ends) is walked out of it in the budget's last tokens:
    # the string, the list, the block, then the fence.
    looping = '```hcl\nresource "aws_instance" "web" {\n  vpc_security_group_ids = [\n' + '    "sg-0a1b2c3d4e5f",\n' * 60
    ids = tokenizer.encode(looping, add_special_tokens=False)
    budget = 90
    assert not validate(answer(GuidedLogitsProcessor(tokenizer, ["terraform"])), "terraform").verdicts["parses"].passed
    walked = answer(GuidedLogitsProcessor(tokenizer, ["terraform"], budget=budget))
    assert walked.rstrip().endswith("]\n}\n```") or walked.rstrip().endswith("]\n}\n\n```"), walked[-80:]
    assert validate(walked, "terraform").verdicts["parses"].passed, walked[-200:]


def test_a_looping_yaml_comment_ends_at_its_line_not_in_brackets(tiny, grammars, monkeypatch):
    """In YAML (and in a comment) a bracket is text: a Kubernetes answer repeating a comment line is ended at the end
    of a line and its fence closed, where closing brackets would only have been written into the comment. (With
    the comment bans off: on, no comment is begun at all.)"""
    import torch

    from studio.guided import decoding
    from studio.guided.decoding import GuidedLogitsProcessor
    from studio.iac import validate

    monkeypatch.setattr(decoding, "COMMENT_BANS", ())
    monkeypatch.setattr(decoding, "COMMENT_RUNS", False)  # else the second comment line is refused already
    _, tokenizer = tiny
    looping = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n" + "  # the settings of the app\n" * 60
    ids = tokenizer.encode(looping, add_special_tokens=False)
    prompt = tokenizer(generation.prompt_text(tokenizer, chat.messages_for("x", "kubernetes")), return_tensors="pt",
                       add_special_tokens=False)["input_ids"]
    guide = GuidedLogitsProcessor(tokenizer, ["kubernetes"], budget=120)
    sequence, out = prompt, []
    for step in range(120):
        scores = torch.zeros(1, len(tokenizer))
        scores[0, ids[step]] = 10.0  # the model's wish: the comment again and again
        token = int(guide(sequence, scores)[0].argmax())
        out.append(token)
        if generation.closes_fence(tokenizer.decode(out)):
            break
        sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
    answer = tokenizer.decode(out, skip_special_tokens=True)
    assert answer.endswith("\n```") and "}" not in answer and "]" not in answer, answer[-120:]
    assert validate(answer, "kubernetes").verdicts["parses"].passed, answer[-200:]


def _follow(tokenizer, kind: str, wish: str, monkeypatch, bans: bool, comments: bool | None = True) -> str:
    """The answer a guided processor lets through when the model wishes, step by step, for `wish`'s tokens (the
    lowest allowed token where the wish is refused). `bans`: the repeat bans; `comments`: the comment bans in
    both kinds, in none, or (None) as `decoding.COMMENT_BANS` has them."""
    import torch

    from studio.guided import decoding

    monkeypatch.setattr(decoding, "REPEAT_BANS", bans)
    monkeypatch.setattr(decoding, "REQUIRED_BANS", bans)
    if comments is not None:
        monkeypatch.setattr(decoding, "COMMENT_BANS", ("terraform", "kubernetes") if comments else ())
    ids = tokenizer.encode(wish, add_special_tokens=False)
    prompt = tokenizer(generation.prompt_text(tokenizer, chat.messages_for("x", kind)), return_tensors="pt",
                       add_special_tokens=False)["input_ids"]
    guide = decoding.GuidedLogitsProcessor(tokenizer, [kind])
    sequence, out = prompt, []
    for wished in ids:
        scores = torch.zeros(1, len(tokenizer))
        scores[0, wished] = 10.0
        token = int(guide(sequence, scores)[0].argmax())
        out.append(token)
        sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
    assert guide.failed == 0
    return tokenizer.decode(out, skip_special_tokens=True)


def test_a_yaml_key_is_not_written_twice_in_its_mapping(tiny, grammars, monkeypatch):
    """The commonest parse failure of guided Kubernetes answers on the GPU: a mapping repeating one of its keys."""
    import re

    _, tokenizer = tiny
    wish = ("```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
            "  replicas: 3\n")
    free = _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=False)
    held = _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True)
    assert len(re.findall(r"(?m)^  replicas:", free)) == 2, free
    assert len(re.findall(r"(?m)^  replicas:", held)) == 1, held
    assert held.startswith(wish.split("  replicas: 3")[0]), held  # what came before is untouched


def test_a_kubernetes_object_is_not_declared_twice(tiny, grammars, monkeypatch):
    """`Deployment frontend is declared twice` (5 of 196 guided Kubernetes answers on the GPU): the second
    Deployment's name goes on instead of ending on the first one's; another kind may take the name."""
    import re

    _, tokenizer = tiny
    deployment = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: frontend\nspec:\n  replicas: 1\n"
                  "  selector:\n    matchLabels:\n      app: web\n  template:\n    spec:\n      containers:\n"
                  "      - name: web\n        image: nginx\n")
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: frontend\nspec:\n  ports:\n  - port: 80\n"
    wish = "```yaml\n" + deployment + "---\n" + service + "---\n" + deployment
    names = r"(?m)^kind: (\w+)\nmetadata:\n  name: (\S+)"
    free = re.findall(names, _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=False))
    held = re.findall(names, _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True))
    assert free == [("Deployment", "frontend"), ("Service", "frontend"), ("Deployment", "frontend")], free
    assert held[:2] == free[:2] and held[2][0] == "Deployment", held
    assert held[2][1].startswith("frontend") and held[2][1] != "frontend", held


def test_kubernetes_lines_end_without_tabs(tiny, grammars, monkeypatch):
    import re

    _, tokenizer = tiny
    head = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
    held = _follow(tokenizer, "kubernetes", head + "data:\t\t\t\n  a: b\n", monkeypatch, bans=True)
    assert held.startswith(head) and "\t" not in re.sub(r"#.*", "", held), repr(held)  # a comment is text


def test_a_list_item_opens_a_new_mapping_where_its_keys_are_free_again(tiny, grammars, monkeypatch):
    _, tokenizer = tiny
    wish = ("```yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: a\n"
            "    image: nginx\n  - name: b\n    image: redis\n")
    assert _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True) == wish


def test_a_terraform_block_is_not_declared_twice(tiny, grammars, monkeypatch):
    import re

    _, tokenizer = tiny
    block = 'resource "aws_sqs_queue" "mailer" {\n  name = "mailer"\n}\n\n'
    wish = "```hcl\n" + block + block + 'resource "aws_sqs_queue_policy" "mailer" {\n'
    labels = r'(?m)^resource "(\w+)" "([^"]+)"'
    free = re.findall(labels, _follow(tokenizer, "terraform", wish, monkeypatch, bans=False))
    held = re.findall(labels, _follow(tokenizer, "terraform", wish, monkeypatch, bans=True))
    assert free.count(("aws_sqs_queue", "mailer")) == 2, free
    # The second block goes on with its name instead of closing it on the first one's.
    assert held.count(("aws_sqs_queue", "mailer")) == 1 and len(set(held)) == len(held) >= 2, held
    assert held[1][1].startswith("mailer") and held[1][1] != "mailer", held


def test_another_type_may_take_the_same_name(tiny, grammars, monkeypatch):
    _, tokenizer = tiny
    wish = ('```hcl\nresource "aws_sqs_queue" "mailer" {\n  name = "mailer"\n}\n\n'
            'resource "aws_sqs_queue_policy" "mailer" {\n  queue_url = aws_sqs_queue.mailer.id\n')
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=True) == wish


@pytest.mark.parametrize("indent, gap, name, block", [
    ("  ", "", "db_name", 'resource "aws_db_instance" "main" {\n  instance_class = "db.t3.micro"\n'),
    ("", "\n", "db_name", 'resource "aws_db_instance" "main" {\n  instance_class = "db.t3.micro"\n'),
    # `name` begins another of the block's names (`name_prefix`): its ` =` is what repeats it (sixth session: guided
    # answers set `name` again at column 0, the ban took ` =` for a token that went before a name)
    ("", "\n", "name", 'resource "aws_iam_role" "app" {\n  assume_role_policy = "{}"\n'),
    ("  ", "", "name", 'resource "aws_iam_role" "app" {\n  assume_role_policy = "{}"\n'),
])
def test_a_terraform_argument_is_not_set_twice_in_its_block(tiny, grammars, monkeypatch, indent, gap, name, block):
    """A guided loop seen on the GPU: `db_name = "..."` written 21 times in one block (Terraform refuses an argument
    set twice). Others went on at column 0 inside their block, `id = each.value.id` 23 times (fifth session): the
    block is found by its braces, not by the indentation."""
    import re

    _, tokenizer = tiny
    line = f'{indent}{name} = "app"\n{gap}'
    head = "```hcl\n" + block + gap + line
    free = _follow(tokenizer, "terraform", head + line * 2, monkeypatch, bans=False)
    held = _follow(tokenizer, "terraform", head + line * 2, monkeypatch, bans=True)
    assert len(re.findall(rf"(?m)^\s*{name}\s*=", free)) == 3, free
    assert len(re.findall(rf"(?m)^\s*{name}\s*=", held)) == 1, held
    assert held.startswith(head), held


def test_a_terraform_block_of_at_most_one_is_not_written_twice(tiny, grammars, monkeypatch):
    """`spot_options { ... }` 15 times, `target_object_key_format {}` 38 times: the commonest loops of the cpu
    recipe's guided Terraform answers (eleventh session), and Terraform refuses a second block where its schema
    allows one ("Too many ... blocks"). A block of at most one, once written, is not begun again; a block that may
    repeat (`ingress`) still does."""
    import re

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
            '  instance_market_options {\n    spot_options {\n      max_price = "1"\n    }\n')
    for again in ('    spot_options {\n      max_price = "2"\n    }\n', "    spot_options {}\n"):
        wish = head + again
        assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
        held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
        assert held.startswith(head) and len(re.findall(r"(?m)^ *spot_options", held)) == 1, held
    rule = '  ingress {\n    from_port = 443\n    to_port = 443\n    protocol = "tcp"\n  }\n'
    many = '```hcl\nresource "aws_security_group" "s" {\n  name = "web"\n' + rule + rule + "}\n"
    assert _follow(tokenizer, "terraform", many, monkeypatch, bans=True) == many
    # nor a resource's `connection` or `lifecycle` (`connection { ... }` 21 times)
    head = ('```hcl\nresource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
            '  connection {\n    host = "10.0.0.1"\n  }\n')
    wish = head + '  connection {\n    host = "10.0.0.2"\n  }\n'
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    assert held.startswith(head) and held.count("connection") == 1, held
    # nor as a `dynamic` block again (`dynamic "versioning_configuration"` to the budget)
    dynamic = ('  dynamic "versioning_configuration" {\n    for_each = [1]\n    content {\n      status = "Enabled"\n'
               '    }\n  }\n')
    head = '```hcl\nresource "aws_s3_bucket_versioning" "v" {\n  bucket = "b"\n' + dynamic
    wish = head + dynamic
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    assert held.startswith(head) and held.count('"versioning_configuration"') == 1, held
    # nor a second `content` in a `dynamic` block ("Extraneous dynamic content block"; 4 in a row in a guided answer,
    # thirteenth session)
    content = '    content {\n      from_port = 443\n      to_port = 443\n      protocol = "tcp"\n    }\n'
    head = '```hcl\nresource "aws_security_group" "s" {\n  name = "web"\n  dynamic "ingress" {\n' + content
    wish = head + content
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    assert held.startswith(head) and held.count("content") == 1, held


@pytest.mark.parametrize("head, lacking", [
    ('resource "aws_s3_bucket_versioning" "v" {\n  bucket = "logs"\n', "versioning_configuration"),  # a block
    ('resource "aws_security_group_rule" "r" {\n  type = "ingress"\n  from_port = 443\n  to_port = 443\n'
     '  protocol = "tcp"\n', "security_group_id"),  # more required arguments than the grammar tracks
    ('resource "aws_acmpca_certificate" "c" {\n  validity {\n    type = "DAYS"\n', "value"),  # a nested block
    ('resource "aws_security_group" "s" {\n  dynamic "ingress" {\n    content {\n      from_port = 80\n'
     '      to_port = 80\n      protocol = "tcp"\n    }\n', "for_each"),
])
def test_a_terraform_block_does_not_close_while_it_lacks_what_its_schema_requires(tiny, grammars, monkeypatch,
                                                                                  head, lacking):
    """`missing required argument` was the commonest Terraform schema failure of guided answers (44 of 57 on the
    cpu recipe's model, sixth session): where the model would close the block, its `}` is refused and the line
    begins the name the block lacks instead."""
    import re

    _, tokenizer = tiny
    head = "```hcl\n" + head
    wish = head + "}\n"
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    word = re.match(r" *([A-Za-z_]*)", held[len(head):])[1]
    assert held.startswith(head) and word and lacking.startswith(word), (lacking, held)
    done = head + f"  {lacking} = 1\n" if lacking in ("security_group_id", "value") else None
    if done:  # with it written, the block closes
        assert _follow(tokenizer, "terraform", done + "}\n", monkeypatch, bans=True) == done + "}\n"


@pytest.mark.parametrize("close", ["    }\n", "}\n", "                    }\n", "                    \n    }\n"])
def test_a_steered_terraform_line_stays_within_its_blocks_column(tiny, grammars, monkeypatch, close):
    """Steered from closing `alias` (it lacks `evaluate_target_health`), a guided answer wrote spaces to 48 columns,
    twice, where the grammar lets no name begin, and then closed the block anyway (eleventh session): no spaces
    take such a line past the column of the block's names, and where the model would close it, it begins the name
    the block lacks."""
    import re

    from studio.guided import repeats

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_route53_record" "apex" {\n  zone_id = "Z1"\n  name = "example.com"\n'
            '  type = "A"\n  alias {\n    name = "lb"\n    zone_id = "Z2"\n')
    wish = head + close + "}\n"
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    assert held.startswith(head), held
    line = held[len(head):].split("\n", 1)[0]
    assert re.fullmatch(r" {0,4}(\S.*)?", line) and not line.strip().startswith("}"), (line, held)
    steered = repeats.Repeats(tokenizer, "terraform")
    steered.banned(head)  # the steering's tokens (a real model chooses among them) stay within the column too
    texts = [tokenizer.decode([token]) for token in steered.steer_tokens()]
    assert steered.lacking == {"evaluate_target_health"} and texts, texts
    assert all(len(text) - len(text.lstrip(" ")) <= 4 for text in texts), texts
    if not close.startswith("     "):  # where the model would close the block, the line begins the name it lacks
        word = re.fullmatch(r" *([a-z_]+).*", line)
        assert word and "evaluate_target_health".startswith(word[1]), (line, held)


def test_the_steering_of_a_terraform_line_stays_within_its_column_with_the_embedded_tokenizer(embedded_home,
                                                                                              monkeypatch):
    """The tiny tokenizer has few runs of spaces; SmolLM2's has them up to 16 and more, which the steering allowed
    alone (the answer that wrote 48 spaces twice): with it, every steering token keeps the line within the column
    of the block's names, 4 here, and past the column only names are left."""
    from transformers import AutoTokenizer

    from studio import models
    from studio.guided import repeats

    monkeypatch.setenv("INFRAMIND_HOME", str(embedded_home))
    tokenizer = AutoTokenizer.from_pretrained(models.materialize_embedded())
    head = ('```hcl\nresource "aws_route53_record" "apex" {\n  zone_id = "Z1"\n  name = "example.com"\n'
            '  type = "A"\n  alias {\n    name = "lb"\n    zone_id = "Z2"\n')
    steered = repeats.Repeats(tokenizer, "terraform")
    for have in range(0, 7):
        steered.banned(head + " " * have)
        texts = [tokenizer.decode([token]) for token in steered.steer_tokens()]
        assert steered.lacking == {"evaluate_target_health"} and texts, (have, texts)
        assert all(have + len(text) - len(text.lstrip(" ")) <= max(have, 4) for text in texts), (have, texts)
        if have >= 4:
            assert all(text.strip() and "evaluate_target_health".startswith(text.strip()) for text in texts), texts


@pytest.mark.parametrize("close", ["    rule {}\n", "    rule {\n    }\n", "    rule { }\n"])
def test_a_terraform_block_does_not_close_on_the_line_that_opens_it_while_it_lacks_a_name(tiny, grammars,
                                                                                          monkeypatch, close):
    """`rule {}` again and again (84 times in one answer): the grammar's one-line form of a nested block closed
    `rule` without the `apply_server_side_encryption_by_default` its schema requires (8 of the 15 Terraform schema
    failures of the cpu recipe's guided answers, eleventh session). Its `{}`, and its `}` on the line of its `{`,
    are refused like the `}` of a line of its own; a block that lacks nothing may still close so."""
    import re

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "logs"\n'
            '  server_side_encryption_configuration {\n')
    wish = head + close
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    assert held.startswith(head + "    rule") and not re.search(r"rule *\{ *\}", held), held
    empty = '```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "logs"\n  versioning {}\n}\n'
    assert _follow(tokenizer, "terraform", empty, monkeypatch, bans=True) == empty


def test_a_dynamic_blocks_content_takes_only_the_names_of_the_block_it_writes(tiny, grammars, monkeypatch):
    """The grammar leaves a `dynamic` block's `content` free; answers wrote `content { for_each = ... content {` in
    it to the budget (5 of the 14 Terraform schema failures of the cpu recipe's guided answers, eleventh session).
    The names written there are those of the nested block's schema."""
    import re

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "logs"\n  server_side_encryption_configuration {\n'
            '    rule {\n      dynamic "apply_server_side_encryption_by_default" {\n        for_each = [1]\n'
            '        content {\n')
    wish = head + "          for_each = [1]\n          content {\n"
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    names = re.findall(r"(?m)^ *([A-Za-z_]+)", held[len(head):])
    assert held.startswith(head) and names, held
    assert all(any(field.startswith(name) for field in ("sse_algorithm", "kms_master_key_id")) for name in names), held
    done = head + '          sse_algorithm = "aws:kms"\n        }\n'
    assert _follow(tokenizer, "terraform", done, monkeypatch, bans=True) == done
    # half a name, ended by `=`, `{`, a label
    for half in ('          kms_master_key = "k"\n', "          kms {\n", "          kms_{x = 1}\n",
                 '          kms "k" {\n'):
        wish = head + half
        assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
        held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
        assert held.startswith(head) and not re.search(r'(?m)^ *(kms_master_key|kms_?) *[={"]', held), held
    # a whole name ends as what it is: an argument with `=`, a block with `{`, `dynamic` with its label
    # (`dynamic = "orders"`, `create {` in `timeouts`: twelfth and thirteenth sessions)
    filter_head = ('```hcl\nresource "aws_s3_bucket_replication_configuration" "r" {\n  role = "arn"\n'
                   '  bucket = "b"\n  rule {\n    status = "Enabled"\n    dynamic "filter" {\n      for_each = [1]\n'
                   '      content {\n')
    for head, wrong, name, ending in (
            (head, "          sse_algorithm {\n", "sse_algorithm", "{"),
            (head, "          sse_algorithm{\n", "sse_algorithm", "{"),
            (filter_head, '        dynamic = "orders"\n', "dynamic", "="),
            (filter_head, "        prefix {\n", "prefix", "{"),
            (filter_head, "        tag = {\n", "tag", "="), (filter_head, "        dynamic {\n", "dynamic", "{")):
        wish = head + wrong
        assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
        held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
        assert held.startswith(head) and not re.search(rf"(?m)^ *{name} *{ending}", held[len(head):]), held
    # and a `dynamic` block's label there is one of the nested blocks of the block it writes
    wish = filter_head + '        dynamic "delete_marker_replication" {\n'
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    label = re.match(r' *dynamic "([^"]*)"', held[len(filter_head):])
    assert label and label[1] in ("and", "tag"), held
    done = filter_head + '        prefix = "logs/"\n        tag {\n'
    assert _follow(tokenizer, "terraform", done, monkeypatch, bans=True) == done


def test_a_kubernetes_mapping_does_not_close_while_it_lacks_what_its_schema_requires(tiny, grammars, monkeypatch):
    """`spec.template.spec: missing required field "containers"` (12 of 98 guided Kubernetes schema failures on the
    GPU): a line may not begin left of a mapping that lacks a required field, nor end the document (`roleRef`)."""
    _, tokenizer = tiny
    head = ("```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n"
            "    matchLabels:\n      app: web\n  template:\n    spec:\n      restartPolicy: Always\n")
    wish = head + "  replicas: 2\n"
    assert _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True)
    rest = held[len(head):]
    assert held.startswith(head) and "replicas" not in rest, held
    assert all(len(line) - len(line.lstrip(" ")) >= 6 for line in rest.split("\n") if line.strip()), held
    binding = ("```yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: b\n"
               "subjects:\n- kind: ServiceAccount\n  name: a\n")
    held = _follow(tokenizer, "kubernetes", binding + "```", monkeypatch, bans=True)
    assert held.startswith(binding) and not held[len(binding):].startswith("`"), held
    done = binding + "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: r\n```"
    assert _follow(tokenizer, "kubernetes", done, monkeypatch, bans=True) == done


@pytest.mark.parametrize("head, lacking", [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n"
     "      app: web\n  template:\n    spec:\n      restartPolicy: Always\n", {"containers"}),
    ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n"
     "  minReplicas: 2\n", {"scaleTargetRef", "maxReplicas"}),
])
def test_a_kubernetes_line_that_would_leave_a_mapping_lacking_a_field_begins_that_field(embedded_home, grammars,
                                                                                        monkeypatch, head, lacking):
    """Kept from leaving the mapping, answers wrote other keys at its column until the budget ended them instead
    (`missing required field "scaleTargetRef"`, `"maxReplicas"`, `"template"`: 5 of the 8 Kubernetes schema failures
    of the cpu recipe's guided answers, tenth session). Where the model's likeliest token would begin the line left
    of the mapping, the line begins a field it lacks, as Terraform's blocks do: with the embedded model's
    tokenizer, whose spaces and words (`     ` then ` containers`) make the way there."""
    import re

    from transformers import AutoTokenizer

    from studio import models

    monkeypatch.setenv("INFRAMIND_HOME", str(embedded_home))
    tokenizer = AutoTokenizer.from_pretrained(models.materialize_embedded())
    head = "```yaml\n" + head
    wish = head + "---\n"
    assert _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=False) == wish
    held = _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True)
    rest = held[len(head):]
    column = len(head.rstrip("\n").rsplit("\n", 1)[-1]) - len(head.rstrip("\n").rsplit("\n", 1)[-1].lstrip(" "))
    word = re.match(rf" {{{column}}}([A-Za-z]+)", rest)
    assert word and any(name.startswith(word[1]) for name in lacking), (lacking, rest)


def test_a_kubernetes_mapping_that_lacks_a_field_takes_no_second_blank_or_comment_line(tiny, grammars, monkeypatch):
    """Kept from closing a list item that lacks `port`, answers wrote blank lines (or comment lines) to the budget
    instead (6 of the 11 Kubernetes schema failures of the cpu recipe's guided SFT, tenth session): one such line may
    follow the mapping, not a second, nor spaces past where a line could hold anything (40 spaces, then only a newline
    or a comment was left: the model's way round the ban)."""
    import re

    _, tokenizer = tiny
    head = ("```yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - name: http\n"
            "    targetPort: 80\n")
    for gaps in ("\n" * 6, "    \n" * 6, "    # the port\n" * 6, "\n" + " " * 40 + "\n" + (" " * 40 + "###\n") * 4):
        wish = head + gaps
        assert _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=False, comments=False) == wish
        held = _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True, comments=False)
        lines = held[len(head):].split("\n")
        assert held.startswith(head + gaps.split("\n")[0]), held  # the first gap line is free
        assert not any(_gap(a) and _gap(b) for a, b in zip(lines, lines[1:-1])), held
        assert all(len(line) - len(line.lstrip(" ")) >= 4 for line in lines[1:] if line.strip()), held
    # likewise under a key whose value has not begun (`containers:` then comment lines to the budget, eleventh session)
    pod = "```yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
    wish = pod + "# the app\n\n" * 3
    held = _follow(tokenizer, "kubernetes", wish, monkeypatch, bans=True, comments=False)
    lines = held[len(pod):].split("\n")
    assert not any(_gap(a) and _gap(b) for a, b in zip(lines, lines[1:-1])), held
    # with the field written, blank lines are free again
    done = head + "    port: 80\n\n\n"
    assert _follow(tokenizer, "kubernetes", done, monkeypatch, bans=True, comments=False) == done
    assert re.search(r"\n\n\n$", done)


def _gap(line: str) -> bool:
    return not line.strip(" ") or line.lstrip(" ").startswith("#")


def test_no_seed_answer_meets_a_ban_but_its_comments(tiny):
    """The name and required bans never refuse a token of a valid answer: each of the 740 seed answers, token by
    token (the comment bans aside: 66 seed answers have comments)."""
    import json
    from pathlib import Path

    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    data = Path(__file__).resolve().parents[2] / "data"
    rows = [json.loads(line) for name in ("train.jsonl", "eval.jsonl")
            for line in (data / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    refused = []
    for row in rows:
        repeats = Repeats(tokenizer, row["kind"], comments=False)
        for token in tokenizer.encode(row["output"], add_special_tokens=False):
            if token in repeats.banned():
                refused.append((row["id"], repeats.text[-60:], tokenizer.decode([token])))
                break
            repeats.add(token)
    assert len(rows) == 740 and refused == []



def test_a_name_already_set_cannot_be_padded_with_spaces_forever(tiny):
    """With `name` set, `  name` may not go on with `=` (the argument again) nor with spaces: those were all the grammar
    left, and guided answers wrote spaces after the name to the budget (eighth session). A longer name may go on."""
    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    repeats = Repeats(tokenizer, "terraform")
    spaces = {i for i in range(len(tokenizer)) if set(tokenizer.decode([i])) == {" "}}
    above = '```hcl\nresource "aws_iam_role" "r" {\n  name = "a"\n'
    for line in ("  name", "  name ", "  name      "):
        banned = set(repeats.banned(above + line))
        assert spaces and spaces <= banned, line
        assert not any(tokenizer.decode([t]) == "_" for t in banned), "name_prefix stays open"
    assert not spaces & set(repeats.banned(above + "  tags")), "a name not yet set may be padded"


@pytest.mark.parametrize("loop, bounded", [
    ("  bucket" + " " * 80 + '= "a"\n', lambda held: " " * 49 not in held),
    ('  bucket = "a"\n' + "\n" * 40 + '  force_destroy = true\n', lambda held: "\n\n\n\n" not in held),
    ('  bucket\t\t= "a"\n', lambda held: "bucket\t" not in held and "\t\t" not in held),
])
def test_terraform_whitespace_is_bounded(tiny, grammars, monkeypatch, loop, bounded):
    """Guided answers looped in whitespace the grammar allowed without end (tabs and spaces after `connection` to
    the budget, runs of blank lines): tabs are refused, runs of spaces and of blank lines end."""
    _, tokenizer = tiny
    head = '```hcl\nresource "aws_s3_bucket" "a" {\n'
    free = _follow(tokenizer, "terraform", head + loop, monkeypatch, bans=True)
    assert free.startswith(head) and bounded(free), repr(free)


def test_a_terraform_line_ends_without_a_comment_but_a_string_keeps_its_hash(tiny, grammars, monkeypatch):
    _, tokenizer = tiny
    head = '```hcl\nresource "aws_s3_bucket" "a" {\n  bucket = "a#b"\n'
    held = _follow(tokenizer, "terraform", head + '  force_destroy = true # for tests\n', monkeypatch, bans=True)
    assert held.startswith(head) and "#" not in held[len(head):], held
    assert _follow(tokenizer, "terraform", head, monkeypatch, bans=True) == head


def test_nested_blocks_and_maps_keep_their_own_arguments(tiny, grammars, monkeypatch):
    """Two `rule` blocks each set `id` and `status`; a map's keys and a nested block's arguments are not the
    enclosing block's: the bans change nothing here."""
    _, tokenizer = tiny
    rule = '  rule {\n    id     = "{}"\n    status = "Enabled"\n  }\n'
    wish = ('```hcl\nresource "aws_s3_bucket_lifecycle_configuration" "logs" {\n  bucket = "logs"\n'
            + rule.replace("{}", "a") + rule.replace("{}", "b") + '}\n\nresource "aws_s3_bucket" "logs" {\n'
            '  bucket = "logs"\n  tags = {\n    bucket = "logs"\n  }\n}\n')
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=True) == wish


@pytest.mark.parametrize("kind, wish", [
    ("terraform", '```hcl\n# the logs\nresource "aws_s3_bucket" "logs" {\n  # its name\n  bucket = "logs"\n'),
    ("kubernetes", "```yaml\n# the app\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  # its name\n  name: app\n"),
])
def test_guided_answers_begin_no_comment_line(tiny, grammars, monkeypatch, kind, wish):
    """Where the grammar takes away the token a model wanted, a comment is the one place anything may follow: on
    the GPU 13 of 21 guided answers with comments looped inside them. The grammar accepts comments; the guided
    answer begins none (by default in Terraform only: `decoding.COMMENT_BANS`)."""
    import re

    free = _follow(tiny[1], kind, wish, monkeypatch, bans=True, comments=False)
    held = _follow(tiny[1], kind, wish, monkeypatch, bans=True)
    assert free == wish
    opener = r"#|//|/\*" if kind == "terraform" else "#"
    assert not re.search(rf"(?m)^\s*({opener})", held), held


def test_by_default_only_terraform_answers_are_kept_from_comments(tiny, grammars, monkeypatch):
    """In Kubernetes the bans cost parsing on the cpu recipe's model (95.9% to 85.7%): there they are off."""
    yaml = "```yaml\n# the app\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
    hcl = '```hcl\n# the logs\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n'
    assert _follow(tiny[1], "kubernetes", yaml, monkeypatch, bans=True, comments=None) == yaml
    assert "# the logs" not in _follow(tiny[1], "terraform", hcl, monkeypatch, bans=True, comments=None)


def test_a_kubernetes_comment_line_does_not_follow_another(tiny, grammars, monkeypatch):
    """Where Kubernetes answers may write comments, 25 of the 28 looping guided answers of the cpu recipe's SFT
    wrote one comment line again and again: one comment line stays, a second right after it does not (where
    `decoding.COMMENT_RUNS` is on; off by default, see there)."""
    import re

    from studio.guided import decoding

    monkeypatch.setattr(decoding, "COMMENT_RUNS", True)
    one = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  # its name\n  name: app\n"
    assert _follow(tiny[1], "kubernetes", one, monkeypatch, bans=True, comments=None) == one
    looping = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n" + "  # the app\n" * 4
    held = _follow(tiny[1], "kubernetes", looping, monkeypatch, bans=True, comments=None)
    assert "# the app" in held and not re.search(r"(?m)^ *#.*\n(\s*\n)* *#", held), held


@pytest.mark.parametrize("kind, wish", [
    ("terraform", '```hcl\nresource "aws_instance" "web" {\n  ami           = "ami-0abc"\n'
                  '  instance_type = "t3.micro"\n  user_data     = <<-EOF\n    #!/bin/bash\n    yum install -y nginx\n'
                  '  EOF\n}\n'),
    ("kubernetes", "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  run.sh: |\n"
                   "    #!/bin/sh\n    # start the app\n    exec app\n"),
])
def test_a_hash_inside_a_heredoc_or_block_scalar_is_text_not_a_comment(tiny, grammars, monkeypatch, kind, wish):
    """`#!/bin/bash` opening a `user_data` heredoc, or a script's comment in a ConfigMap, is the value's text."""
    assert _follow(tiny[1], kind, wish, monkeypatch, bans=True) == wish


def test_guided_llama_cpp_answers_are_the_same_whether_masks_are_filled_together_or_alone(home, tiny_llama,
                                                                                          grammars, byte_matchers):
    """With several answers decoding at once their masks are computed in one parallel call (`fill_together`);
    with one slot each processor fills its own. Greedy or sampled, every answer is the same either way."""
    from studio import llama_engine, models
    from studio.guided.decoding import GuidedLogitsProcessor

    model, tokenizer = models.load(str(tiny_llama))
    path = llama_engine.gguf_for(model, tokenizer, llama_engine.weights_key(str(tiny_llama)))
    requests = [("An S3 bucket", "terraform"), ("nginx, 2 replicas", "kubernetes"), ("An SQS queue", "terraform"),
                ("A CronJob", "kubernetes")]
    prompts = [tokenizer(generation.prompt_text(tokenizer, chat.messages_for(r, k)), add_special_tokens=False)
               ["input_ids"] for r, k in requests]
    for temperature in (0.0, 1.0):
        answers = []
        for slots in (1, 3):
            guides = [GuidedLogitsProcessor(tokenizer, [k], budget=30) for _, k in requests]
            engine = llama_engine.LlamaBatch(path, slots=slots, context=slots * 512)
            answers.append(dict(engine.answers(prompts, 30, generation.end_of_turn_ids(tokenizer),
                                               temperature=temperature, seed=3, guides=guides)))
            engine.close()
            assert sum(g.failed for g in guides) == 0
        assert answers[0] == answers[1], temperature
        for index, (_, kind) in enumerate(requests):
            text = tokenizer.decode(answers[0][index], skip_special_tokens=True)
            assert byte_matchers[kind](text, whole=False) is None, text


def test_a_complete_yaml_mapping_takes_no_line_at_its_column(tiny):
    """Once a list item's mapping has every field its schema has (a ServicePort's six), a line may not begin at its
    column: each key there would repeat one, the bans gave way with nothing else left, and the answer wrote `port`
    again (`key "port" is defined twice`) or comment lines to the budget (ninth session). The list's next item, at
    the dash's column, stays open; an item still lacking a field keeps its column."""
    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    space = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" ")[0])
    head = "```yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n    - name: http\n"
    fields = "      port: 80\n      targetPort: 8080\n      protocol: TCP\n      nodePort: 30080\n"
    complete = head + fields + "      appProtocol: http\n"
    for above in (complete, complete + "      # the app\n"):
        assert space in Repeats(tokenizer, "kubernetes").banned(above + "    "), "column 5 and on: closed"
        assert space not in Repeats(tokenizer, "kubernetes").banned(above + "   "), "the next item's dash: open"
    assert space not in Repeats(tokenizer, "kubernetes").banned(head + fields + "     ")


def test_yaml_bans_read_kept_over_blank_and_comment_lines_are_those_read_afresh(tiny):
    """The bans keep what they read of a document's structure while only blank or comment lines are added (a random
    model writes one every token or two, seventeenth session). At every character of a document with such lines
    between keys, inside a block scalar (where `#` is text) and under a mapping that lacks a required field, one
    `Repeats` walked along bans, steers and lacks what a fresh one does for the same text."""
    import numpy

    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    document = ("```yaml\napiVersion: apps/v1\nkind: Deployment\n\n# the web tier\nmetadata:\n  name: web\n"
                "  # labels next\n\n  labels:\n    app: web\n\nspec:\n  replicas: 2\n  # no selector yet\n\n"
                "  template:\n    spec:\n      containers:\n        - name: web\n          args: |\n"
                "            # not a comment\n\n            --port=80\n          # a comment\n"
                "          image: nginx\n\n  \n#\n  selector:\n    matchLabels:\n      app: web\n---\n")

    def bans(repeats, text):
        parts = repeats.banned_parts(text)
        banned = set(numpy.concatenate([numpy.asarray(part, dtype=numpy.int64) for part in parts]).tolist()
                     if parts else [])
        return banned, repeats.lacking, sorted(repeats.steer_tokens()), repeats.closing

    line_ends = [end + 1 for end, char in enumerate(document) if char == "\n"]
    # every character; then two lines at a time, so that a step adds a blank or comment line and a key together
    for ends in (range(len(document) + 1), line_ends[::2], line_ends[1::2]):
        walked = Repeats(tokenizer, "kubernetes")
        for end in ends:
            kept, fresh = bans(walked, document[:end]), bans(Repeats(tokenizer, "kubernetes"), document[:end])
            assert kept[:3] == fresh[:3], repr(document[:end][-60:])
            assert list(numpy.asarray(kept[3]).tolist()) == list(numpy.asarray(fresh[3]).tolist())


def test_a_kubernetes_document_begins_with_its_kind(tiny):
    """At a document's first line (after the fence, a `---`, or a comment or blank line there) the tokens that would
    begin `apiVersion` are refused, so the kind is named first; nowhere else, and not with `kind_first` off."""
    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    first = {text: tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)[0]) for text in ("a", "k")}
    header = "```yaml\nkind: Service\napiVersion: v1\nmetadata:\n  name: s\n"
    for above in ("```yaml\n", "```yaml\n# a comment\n\n", header + "---\n"):
        banned = Repeats(tokenizer, "kubernetes", kind_first=True).banned(above)
        assert first["a"] in banned and first["k"] not in banned, repr(above)
        assert first["a"] not in Repeats(tokenizer, "kubernetes").banned(above), "off by default in Repeats"
    for above in (header, header + "spec:\n  ", "```yaml\nkind: Service\n", header + "  # a comment\n"):
        assert set(Repeats(tokenizer, "kubernetes", kind_first=True).banned(above)) == set(
            Repeats(tokenizer, "kubernetes").banned(above)), repr(above)


def test_dynamic_keeps_no_name_open_in_a_block_without_nested_blocks(tiny):
    """`dynamic` is a name only where the grammar has it (a block with nested blocks): taken as still free, it kept a
    `d` open where `description` and `depends_on` were set, whose continuations were then all repeats; the bans gave
    way and the answer set both again and again (ninth session)."""
    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    d = tokenizer.convert_tokens_to_ids("d")
    body = '  name = "a"\n  description = "b"\n  depends_on = []\n  '
    assert d in Repeats(tokenizer, "terraform").banned(
        '```hcl\nresource "aws_dataexchange_data_set" "s" {\n  asset_type = "S3_SNAPSHOT"\n' + body)
    assert d not in Repeats(tokenizer, "terraform").banned('```hcl\nresource "aws_security_group" "s" {\n' + body)


def test_the_walk_out_may_write_only_required_arguments_the_grammar_checks(tiny):
    """What the budget's walk-out may write before a block's `}` (`Repeats.missing_arguments`, the names it steers
    to): required arguments, not nested blocks (their own required names outran the budget), and nothing inside a
    `dynamic` block's content, whose names are free."""
    from studio.guided.repeats import Repeats

    _, tokenizer = tiny
    repeats = Repeats(tokenizer, "terraform")
    repeats.text = '```hcl\nresource "aws_sns_platform_application" "p" {\n  name = "a"\n'
    assert repeats.missing_arguments() == {"platform", "platform_credential"}
    repeats.text = '```hcl\nresource "aws_cloudfront_distribution" "d" {\n  enabled = true\n'
    assert "default_cache_behavior" in repeats.missing() and "default_cache_behavior" not in repeats.missing_arguments()
    repeats.text = ('```hcl\nresource "aws_elastic_beanstalk_configuration_template" "t" {\n  name = "t"\n'
                    '  application = "a"\n  dynamic "setting" {\n    for_each = var.settings\n    content {\n')
    assert repeats.missing() and repeats.missing_arguments() == set()
    # Terraform's own provisioners and `connection` (`studio.iac.terraform.PROVISIONERS`, `CONNECTION`)
    instance = '```hcl\nresource "aws_instance" "a" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
    repeats.text = instance + '  provisioner "local-exec" {\n    working_dir = "/"\n'
    assert repeats.missing_arguments() == {"command"}
    repeats.text = instance + '  connection {\n    type = "ssh"\n'
    assert repeats.missing_arguments() == {"host"}
    repeats.text = instance + '  provisioner "file" {\n    destination = "/etc/a"\n    connection {\n'
    assert repeats.missing_arguments() == {"host"}


@pytest.mark.parametrize("value, closing", [('"' + "to:" * 150 + '"', '"'), ('["a", ' + '"a", ' * 60 + '"a"]', ']')])
def test_a_terraform_line_ends_where_no_seed_line_is_as_long(tiny, grammars, monkeypatch, value, closing):
    """A value of `:to` 300 times, a list of one string 60 times, written to the budget; the walk-out then closed the
    block without what it lacked (twelfth session). Past TERRAFORM_LINE_LIMIT (the seed's longest line: 175) the
    string closes, then the list, then the line, and the block stays open for the names it lacks."""
    from studio.guided import decoding

    _, tokenizer = tiny
    head = '```hcl\nresource "aws_security_group_rule" "r" {\n  type = "ingress"\n  description = '
    wish = head + value + "\n}\n"
    monkeypatch.setattr(decoding, "TERRAFORM_LINE_LIMIT", 10 ** 6)
    assert _follow(tokenizer, "terraform", wish, monkeypatch, bans=False) == wish  # the grammar takes it
    monkeypatch.setattr(decoding, "TERRAFORM_LINE_LIMIT", 200)
    held = _follow(tokenizer, "terraform", wish, monkeypatch, bans=True)
    line = held.split("\n")[3]
    assert held.startswith(head) and decoding.TERRAFORM_LINE_LIMIT == 200
    assert 200 < len(line) <= 212 and line.endswith(closing), line
    assert "}" not in held[len(head):].split("\n", 2)[1], held  # the next line does not close the block


def test_a_kubernetes_line_ends_where_no_seed_line_is_as_long(tiny, grammars, monkeypatch):
    """A list item or a comment 1,000 characters long (2 of the cpu recipe's model's 5 guided Kubernetes answers that
    were not schema-valid, ninth session) is ended once it passes YAML_LINE_LIMIT (the seed's longest line: 133)."""
    from studio.guided import decoding

    _, tokenizer = tiny
    head = "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    held = _follow(tokenizer, "kubernetes", head + "  # " + "the app, " * 60 + "\n", monkeypatch, bans=True,
                   comments=False)
    assert held.startswith(head + "  # the app")
    assert decoding.YAML_LINE_LIMIT == 200
    assert max(len(line) for line in held.split("\n")) <= 212, held  # the wish's line has 544 characters


def _within(tokenizer, kind: str, wish: str, budget: int) -> str:
    """The answer a guided processor with a token budget lets through when the model wishes, step by step, for
    `wish`'s tokens and then its end of turn (the lowest allowed token where the wish is refused)."""
    import torch

    from studio.guided.decoding import GuidedLogitsProcessor

    ids = tokenizer.encode(wish, add_special_tokens=False)
    prompt = tokenizer(generation.prompt_text(tokenizer, chat.messages_for("x", kind)), return_tensors="pt",
                       add_special_tokens=False)["input_ids"]
    guide = GuidedLogitsProcessor(tokenizer, [kind], budget=budget)
    sequence, out = prompt, []
    for step in range(budget):
        scores = torch.zeros(1, len(tokenizer))
        scores[0, ids[step] if step < len(ids) else tokenizer.eos_token_id] = 10.0
        token = int(guide(sequence, scores)[0].argmax())
        out.append(token)
        if token == tokenizer.eos_token_id or generation.closes_fence(tokenizer.decode(out)):
            break
        sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
    assert guide.failed == 0
    return tokenizer.decode(out, skip_special_tokens=True)


def test_a_looping_terraform_block_winds_down_where_another_would_not_fit(tiny, grammars, monkeypatch):
    """A model writing `target_grant { ... }` again and again: once the tokens left would not hold the longest stretch
    between two points where a block may close and the walk-out's window, the row winds down from such a point
    (BLOCK_ENDING): each block closes there, with what it requires. Without it the walk-out began
    inside a grant it then closed lacking `grantee` (`target_grant { }` and the like: 4 of the 8 Terraform answers
    of the cpu recipe's model that were not schema-valid, guided, twelfth session)."""
    from studio.guided import decoding
    from studio.iac import validate

    _, tokenizer = tiny
    grant = ('  target_grant {\n    permission = "READ"\n    grantee {\n      type = "CanonicalUser"\n'
             '      id = "abc"\n    }\n  }\n')
    head = ('```hcl\nresource "aws_s3_bucket_logging" "l" {\n  bucket = "b"\n  target_bucket = "t"\n'
            '  target_prefix = "log/"\n')
    budgets = range(176, 330, 13)  # a grant has 68 tokens here, the head 63
    wound, cut = [], []
    for on, answers in ((True, wound), (False, cut)):
        monkeypatch.setattr(decoding, "BLOCK_ENDING", on)
        answers += [_within(tokenizer, "terraform", head + grant * 30, budget) for budget in budgets]
    assert all(answer.startswith(head + "  target_grant {") and answer.endswith("}\n```") for answer in wound), wound
    assert all(validate(answer, "terraform").verdicts["schema"].passed for answer in wound), wound
    assert sum(not validate(answer, "terraform").verdicts["schema"].passed for answer in cut) >= 5, cut


def test_a_block_that_lacks_an_argument_winds_down_too(tiny, grammars):
    """A resource lacking `from_port`, then a `connection` block of one optional argument after another before its
    `host` (a guided answer wrote 15 of them, thirteenth session): where a block lacks only arguments the walk-out
    writes, a line is a point to wind down from as well, with MISSING_TOKENS more in hand for each. Whatever the
    budget, the connection gets its `host` and the resource its `from_port` (where a block had to be closable, one of
    these 26 budgets left the resource without it)."""
    from studio.iac import validate

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_security_group_rule" "r" {\n  type = "ingress"\n  to_port = 443\n'
            '  protocol = "tcp"\n  security_group_id = "sg-1"\n')
    names = ("type", "user", "password", "port", "timeout", "script_path", "private_key", "certificate",
             "agent_identity", "host_key", "target_platform", "bastion_host", "bastion_port", "bastion_user",
             "bastion_password", "cacert", "proxy_host", "proxy_port")
    wish = head + "  connection {\n" + "".join(f'    {name} = "x"\n' for name in names) + "  }\n}\n"
    start, end = (len(tokenizer.encode(text, add_special_tokens=False)) for text in (head, wish))
    answers = [_within(tokenizer, "terraform", wish, budget) for budget in range(start + 40, end, 8)]
    assert len(answers) == 26
    invalid = [answer for answer in answers if not validate(answer, "terraform").verdicts["schema"].passed]
    assert invalid == [], invalid[0]


def test_the_walk_out_goes_on_to_the_name_it_began_not_another_of_its_letters(tiny, grammars):
    """In the walk-out a block lacking `protocol` may begin only that name; given its first letters an answer went on
    to `provisioner "AWS" { }` (and given `d` for `domain_name`, to `dynamic`), to the budget (twelfth session). The
    letters go on to the name they began."""
    from studio.guided import decoding
    from studio.iac import validate

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_sns_topic_subscription" "s" {\n  topic_arn = "arn:aws:sns:us-east-1:1:t"\n'
            '  endpoint = "a@b.c"\n')
    wish = head + '  provisioner "local-exec" {\n    command = "echo"\n  }\n' * 30
    assert tokenizer.tokenize("  provisioner")[:2] == tokenizer.tokenize("  protocol")[:2]  # ' ', ' pr'
    budget = len(tokenizer.encode(head, add_special_tokens=False)) + decoding.FINISH_WITHIN  # from the blank line
    answer = _within(tokenizer, "terraform", wish, budget)
    assert answer.startswith(head) and "provisioner" not in answer and "protocol" in answer, answer
    assert validate(answer, "terraform").verdicts["parses"].passed, answer


def test_the_walk_out_ends_a_comment_after_code_at_its_line(tiny, grammars, monkeypatch):
    """A bracket in a comment is text: a Terraform line that ends in a comment (`}//* 2016-10-1`) is walked out by its
    newline, where `}` after `}` had been written into the comment to the budget (twelfth session)."""
    from studio.guided import decoding
    from studio.iac import validate

    monkeypatch.setattr(decoding, "COMMENT_BANS", ())
    _, tokenizer = tiny
    head = '```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "b" # '
    answer = _within(tokenizer, "terraform", head + "the bucket, " * 60, 120)
    assert answer.startswith(head + "the bucket") and answer.endswith("\n}\n```"), answer[-100:]
    assert "}" not in answer.split("\n")[2], answer[-100:]
    assert validate(answer, "terraform").verdicts["parses"].passed, answer[-200:]


def test_the_walk_out_ends_a_heredoc_with_its_marker(tiny, grammars):
    """In a heredoc brackets are text: an answer still inside one when the budget ran out had `}` lines written into
    it, and the heredoc never ended (thirteenth session). The walk-out ends the line, then writes the marker on a
    line of its own, then closes the block."""
    from studio.iac import validate

    _, tokenizer = tiny
    head = ('```hcl\nresource "aws_instance" "web" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n'
            '  user_data = <<-EOT\n')
    for budget in (200, 233, 266):
        answer = _within(tokenizer, "terraform", head + "    echo {hi}\n" * 80, budget)
        assert answer.startswith(head + "    echo {hi}\n") and answer.endswith("}\n```"), answer[-120:]
        assert "\n    EOT\n" in answer or "\nEOT\n" in answer, answer[-120:]
        assert validate(answer, "terraform").verdicts["parses"].passed, answer[-200:]


def test_a_block_nested_in_itself_on_every_line_winds_down_in_time(tiny, grammars):
    """The base model nested a free block in itself on every line (`SQSQueueFactory {` 35 levels deep): the walk-out
    needs a `}` and a line end for each level, more than its last 40 tokens hold. The block ending keeps two tokens
    for each block open, so the answer still ends whole."""
    from studio.iac import validate

    _, tokenizer = tiny
    head = "```hcl\nlocals {\n"
    for budget in (150, 181, 212):
        answer = _within(tokenizer, "terraform", head + "q {\n" * 80, budget)  # 3 tokens a level here
        assert answer.startswith(head + "q {\n") and answer.endswith("}\n```"), answer[-120:]
        assert validate(answer, "terraform").verdicts["parses"].passed, answer[-200:]


@pytest.mark.parametrize("names, partial, blocks", [
    (("bucket", "bucket_prefix", "force_destroy", "tags"), "buck", None),
    (("bucket", "bucket_prefix", "force_destroy", "tags"), "", None),
    (("content", "dynamic", "for_each", "filter", "prefix"), "f", frozenset({"filter", "dynamic"})),
    (("EOF",), "EO", None),
])
def test_the_bans_tables_read_only_the_words_that_can_go_on(tiny, names, partial, blocks):
    """`continuing`, `_outside` and `named_other_than` look up the words that take a name's beginning toward one of
    `names` instead of reading every word of the vocabulary (51 ms a table for Qwen's, now 1.4): what they return is
    what the whole vocabulary, read word by word, gives."""
    from studio.guided.repeats import Repeats, _any_starts

    _, tokenizer = tiny
    repeats = Repeats(tokenizer, "terraform")
    tables = repeats._tables
    names = tuple(sorted(names))  # `_any_starts` reads a sorted list
    expected = set()
    for word, entries in tables.hcl_words.items():  # the definition, over every word
        name = partial + word
        argument = blocks is None or name not in blocks and name != "dynamic"
        expected.update(token for token, lead, ended in entries if not lead and (
            name in names and (argument or "=" not in tables.texts[token]) if ended else
            _any_starts(names, name) and word))
    if partial in names:
        expected.update(tables.spaces)
        expected.update(tables.equals if blocks is None or partial not in blocks and partial != "dynamic" else ())
        expected.update(tables.opens if blocks is None or partial in blocks and partial != "dynamic" else ())
    assert set(repeats.continuing(names, partial, blocks)) == expected and expected
    outside = {token for word, entries in tables.hcl_words.items() if word for token, _, ended in entries
               if not (word in names if ended else _any_starts(names, word))}
    assert set(repeats._outside(names).tolist()) == outside
