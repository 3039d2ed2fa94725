"""GRPO rewards: TRL's calling convention, graded components, the wrong-language penalty, the cache, the pool."""

import json

import pytest

import studio.iac.rewards as rewards
from studio.iac.rewards import COMPONENTS, IaCReward, completion_text

INTENT = {"require": [{"resource": "aws_s3_bucket_versioning", "where": {"versioning_configuration.status": "Enabled"},
                       "refers_to": "aws_s3_bucket"}]}


@pytest.fixture
def group(fence, provider5_s3):
    """Six answers to one Terraform prompt, from best to worst."""
    return [
        fence(provider5_s3),                                                       # right
        fence(provider5_s3.replace('bucket = "acme-logs"', 'name = "acme-logs"')),  # one schema error
        fence(provider5_s3.replace('"Enabled"', '"Suspended"')),                   # misses the intent
        fence(provider5_s3.replace("aws_s3_bucket_versioning", "aws_s3_bucket_versioning_policy")),  # invented type
        fence(provider5_s3.rstrip().rstrip("}")),                                  # never closes
        "```python\nimport boto3\n\nboto3.client('s3').create_bucket(Bucket='acme-logs')\n```",  # wrong language
    ]


def test_totals_rank_the_group_and_differ(group):
    reward = IaCReward()
    totals = [reward.score(answer, "terraform", INTENT)["total"] for answer in group]
    assert totals == sorted(totals, reverse=True)
    assert len(set(totals)) == len(totals), "a GRPO group needs variance"
    assert totals[-1] < 0  # the penalty makes boto3 worse than any Terraform


def test_components_of_each_failure(group):
    reward = IaCReward()
    right, schema_error, intent_miss, invented, unclosed, boto3 = (
        reward.score(a, "terraform", INTENT) for a in group)
    # best practice: no public access block, no encryption, no static credentials in the provider (passes)
    assert right == pytest.approx({"format": 1.0, "parse": 1.0, "schema": 1.0, "intent": 1.0, "best_practice": 1 / 3,
                                   "wrong_language": 0.0, "total": 0.25 + 0.5 + 0.5 + 3.0 + 0.25 / 3})
    # the right block with one of its three conditions (type, status, reference) wrong: half of 2/3
    assert intent_miss["intent"] == pytest.approx(1 / 3) and intent_miss["schema"] == 1.0
    # three checked blocks (provider aws, the bucket, the versioning): one error in one, an unknown type
    assert schema_error["schema"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert invented["schema"] == pytest.approx(2 / 3)
    assert unclosed["parse"] == pytest.approx(0.5 * 3 / 4)  # 3 of 4 top-level blocks parse alone
    assert unclosed["schema"] == 0.0
    assert boto3["wrong_language"] == -1.0 and boto3["format"] == 0.0


def test_trl_calling_convention_with_kind_and_intent_columns(fence, provider5_s3, deployment):
    completions = [fence(provider5_s3), fence(deployment, "yaml")]
    kwargs = {"kind": ["terraform", "kubernetes"], "intent": [json.dumps(INTENT), None],
              "trainer_state": object(), "completion_ids": [[1], [2]]}
    assert rewards.reward_schema(prompts=["p1", "p2"], completions=completions, **kwargs) == [1.0, 1.0]
    assert rewards.reward_intent(prompts=["p1", "p2"], completions=completions, **kwargs) == [1.0, 1.0]
    # the same Kubernetes answer where Terraform was asked
    swapped = rewards.reward_wrong_language(prompts=["p"], completions=[fence(deployment, "yaml")], kind=["terraform"])
    assert swapped == [-1.0]


def test_conversational_completions(fence, provider5_s3):
    conversation = [[{"role": "assistant", "content": fence(provider5_s3)}]]
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": fence(provider5_s3)}]}]]
    assert rewards.reward_parse(prompts=[[{"role": "user", "content": "hi"}]], completions=conversation,
                                kind=["terraform"]) == [1.0]
    assert rewards.reward_parse(prompts=None, completions=parts, kind=["terraform"]) == [1.0]
    assert completion_text(None) == ""


def test_missing_kind_is_detected():
    answer = '```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n```'
    assert rewards.reward_schema(prompts=["p"], completions=[answer]) == [1.0]


def test_function_names_chart_well():
    names = [f.__name__ for f in IaCReward().reward_functions()]
    assert names == [f"reward_{c}" for c in COMPONENTS]
    assert rewards.reward_total.__name__ == "reward_total"


def test_trl_weighted_sum_of_components_equals_the_total(group):
    reward = IaCReward(weights={"format": 0.3, "parse": 1.0, "schema": 2.0, "intent": 1.5, "best_practice": 0.1,
                                "wrong_language": 2.0})
    kinds, intents = ["terraform"] * len(group), [INTENT] * len(group)
    columns = [f(prompts=[""] * len(group), completions=group, kind=kinds, intent=intents)
               for f in reward.reward_functions()]
    weighted = [sum(w * column[i] for w, column in zip(reward.trl_reward_weights(), columns)) for i in range(len(group))]
    total = reward.reward_function("total")(prompts=None, completions=group, kind=kinds, intent=intents)
    assert weighted == pytest.approx(total)


def test_zero_weight_components_are_left_out_and_bad_weights_refused():
    reward = IaCReward(weights={"parse": 1.0, "schema": 1.0})
    assert [f.__name__ for f in reward.reward_functions()] == ["reward_parse", "reward_schema"]
    assert reward.trl_reward_weights() == [1.0, 1.0]
    with pytest.raises(ValueError, match="unknown reward component"):
        IaCReward(weights={"syntax": 1.0})
    with pytest.raises(ValueError, match="unknown component"):
        IaCReward().reward_function("style")


def test_each_answer_is_validated_once_per_batch(monkeypatch, group):
    calls = []
    real = rewards.validate

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(rewards, "validate", counting)
    reward = IaCReward()
    batch = group + group[:2]  # two repeats inside the batch, as in a GRPO group of identical samples
    for function in [*reward.reward_functions(), reward.reward_function("total")]:
        function(prompts=[""] * len(batch), completions=batch, kind=["terraform"] * len(batch),
                 intent=[INTENT] * len(batch))
    assert len(calls) == len(group)


def test_cache_key_includes_kind_and_intent(fence, provider5_s3):
    reward = IaCReward()
    answer = fence(provider5_s3)
    assert reward.score(answer, "terraform", INTENT)["intent"] == 1.0
    assert reward.score(answer, "terraform", {"require": [{"resource": "aws_kms_key"}]})["intent"] == 0.0
    assert reward.score(answer, "kubernetes")["wrong_language"] == -1.0


def test_cache_is_bounded(fence):
    reward = IaCReward(cache_size=3)
    for i in range(5):
        reward.score(fence(f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "b"\n}}'), "terraform")
    assert len(reward._cache) == 3


def test_mismatched_columns_are_refused(fence, provider5_s3):
    with pytest.raises(ValueError, match="has 1 values for 2 completions"):
        rewards.reward_parse(prompts=None, completions=[provider5_s3, provider5_s3], kind=["terraform"])


def test_pool_gives_the_same_components_as_one_process(group, deployment, fence):
    batch = group + [fence(deployment, "yaml")] * 1 + [g.replace("acme-logs", "acme-other") for g in group]
    kinds = ["terraform"] * len(group) + ["kubernetes"] + ["terraform"] * len(group)
    intents = [INTENT] * len(batch)
    pooled = IaCReward(workers=2)
    try:
        assert pooled.components_batch(batch, kinds, intents) == IaCReward().components_batch(batch, kinds, intents)
        assert pooled._pool is not None  # the batch was big enough to use it
    finally:
        pooled.close()


def test_a_reward_can_be_copied_without_its_pool(fence, provider5_s3):
    import copy
    import pickle

    reward = IaCReward(workers=2, weights={"parse": 1.0})
    reward.score(fence(provider5_s3), "terraform")
    clone = pickle.loads(pickle.dumps(reward))
    assert clone.weights == {"parse": 1.0} and clone.workers == 2 and len(clone._cache) == 0
    assert copy.deepcopy(reward).score(fence(provider5_s3), "terraform")["parse"] == 1.0


def test_trainer_hooks_get_the_ok_share_and_one_verdict_per_completion(group):
    metrics, columns = [], {}
    hooks = {"log_metric": lambda name, value: metrics.append((name, value)),
             "log_extra": lambda column, values: columns.setdefault(column, []).extend(values)}
    for function in IaCReward().reward_functions():  # as GRPOTrainer calls them: same batch, same kwargs
        function(prompts=[""] * len(group), completions=group, kind=["terraform"] * len(group),
                 intent=[INTENT] * len(group), **hooks)
    assert metrics == [("iac/ok", pytest.approx(1 / 6))]
    verdicts = columns["iac_verdict"]
    assert len(verdicts) == len(group)
    assert verdicts[0] == "ok"
    assert verdicts[1] == 'schema: line 15: aws_s3_bucket.logs: unknown argument "name" (did you mean "bucket"?)'
    assert verdicts[5] == "extracted: asked for Terraform but the answer is Python (boto3)"
