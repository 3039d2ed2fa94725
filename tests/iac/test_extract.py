"""Finding the code in an answer: fences, bare code, prose, several blocks, the wrong language."""

import pytest

from studio.iac import extract_code
from studio.iac.extract import sniff_language

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}'
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: nginx:1.27"


@pytest.mark.parametrize("tag", ["hcl", "terraform", "tf", "HCL", ""])
def test_terraform_fences_of_every_tag(tag):
    found = extract_code(f"Sure.\n```{tag}\n{BUCKET}\n```\nDone.", "terraform")
    assert found.code == BUCKET
    assert found.language == "terraform"
    assert found.fenced
    assert found.tagged == (tag != "")


@pytest.mark.parametrize("tag", ["yaml", "yml", ""])
def test_yaml_fences_of_every_tag(tag):
    found = extract_code(f"```{tag}\n{POD}\n```", "kubernetes")
    assert found.code == POD
    assert found.language == "kubernetes"
    assert found.tagged == (tag != "")


def test_tilde_fence_and_fence_with_a_title():
    assert extract_code(f"~~~hcl\n{BUCKET}\n~~~").code == BUCKET
    assert extract_code(f'```hcl title="main.tf"\n{BUCKET}\n```').code == BUCKET


def test_several_terraform_blocks_are_joined_and_other_blocks_left_out():
    second = 'resource "aws_s3_bucket_versioning" "v" {\n  bucket = aws_s3_bucket.b.id\n}'
    text = f"First:\n```hcl\n{BUCKET}\n```\nThen run:\n```bash\nterraform apply\n```\nAnd:\n```hcl\n{second}\n```"
    found = extract_code(text, "terraform")
    assert found.code == f"{BUCKET}\n\n{second}"
    assert found.blocks == 2
    assert set(found.found) == {"terraform", "bash"}


def test_several_yaml_blocks_become_separate_documents():
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s"
    found = extract_code(f"```yaml\n{POD}\n```\n\n```yaml\n{service}\n```", "kubernetes")
    assert found.code == f"{POD}\n---\n{service}"


def test_bare_terraform_with_prose_around_and_between():
    text = (f"Sure! Here is the configuration.\n{BUCKET}\n\nThis creates a bucket. Next, versioning:\n"
            'resource "aws_s3_bucket_versioning" "v" {\n  bucket = aws_s3_bucket.b.id\n}\nHope this helps!')
    found = extract_code(text, "terraform")
    assert not found.fenced
    assert "Sure" not in found.code and "Hope" not in found.code and "This creates" not in found.code
    assert found.code.startswith('resource "aws_s3_bucket" "b"')
    assert found.code.rstrip().endswith("}")


def test_bare_terraform_keeps_heredocs_whole():
    code = 'resource "aws_iam_policy" "p" {\n  policy = <<EOF\n{\n  "Version": "2012-10-17"\n}\nEOF\n}'
    assert extract_code(f"Policy below.\n{code}\nThat is all.", "terraform").code == code


def test_bare_yaml_with_prose_around():
    found = extract_code(f"Apply this manifest:\n\n{POD}\n\nThis runs nginx in a pod.", "kubernetes")
    assert found.code == POD
    assert found.format_score == 0.5


def test_unclosed_fence_runs_to_the_end_and_is_marked():
    found = extract_code(f"```hcl\n{BUCKET}\n", "terraform")
    assert found.code == BUCKET
    assert found.truncated
    assert found.format_score < extract_code(f"```hcl\n{BUCKET}\n```", "terraform").format_score


def test_format_score_ranks_tagged_over_untagged_over_bare():
    tagged = extract_code(f"```hcl\n{BUCKET}\n```", "terraform").format_score
    untagged = extract_code(f"```\n{BUCKET}\n```", "terraform").format_score
    mislabelled = extract_code(f"```yaml\n{BUCKET}\n```", "terraform").format_score
    bare = extract_code(BUCKET, "terraform").format_score
    assert tagged == 1.0
    assert tagged > untagged > bare > 0
    assert mislabelled == untagged


def test_content_beats_a_lying_tag():
    found = extract_code("```hcl\nimport boto3\ns3 = boto3.client('s3')\n```", "terraform")
    assert found.code == ""
    assert found.wrong_language == "python"


def test_language_detected_when_no_kind_is_given():
    assert extract_code(f"```\n{BUCKET}\n```").language == "terraform"
    assert extract_code(f"```\n{POD}\n```").language == "kubernetes"
    assert extract_code(POD).language == "kubernetes"


@pytest.mark.parametrize("answer, kind, other", [
    ("```python\nimport boto3\n\ns3 = boto3.client('s3')\ns3.create_bucket(Bucket='logs')\n```", "terraform",
     "python"),
    ("```bash\naws s3 mb s3://logs --region eu-west-1\n```", "terraform", "bash"),
    ("```yaml\nAWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Logs:\n    Type: AWS::S3::Bucket\n```",
     "terraform", "cloudformation"),
    (f"```hcl\n{BUCKET}\n```", "kubernetes", "terraform"),
    (f"```yaml\n{POD}\n```", "terraform", "kubernetes"),
    ("```typescript\nimport * as s3 from 'aws-cdk-lib/aws-s3';\nnew s3.Bucket(this, 'Logs');\n```", "terraform",
     "typescript"),
])
def test_wrong_language_is_named(answer, kind, other):
    found = extract_code(answer, kind)
    assert found.code == ""
    assert found.wrong_language == other
    assert "asked for" in found.reason


def test_prose_only_answer_has_no_code_and_no_wrong_language():
    found = extract_code("I cannot help with that, but S3 buckets are great.", "terraform")
    assert found.code == ""
    assert found.wrong_language is None
    assert found.reason == "no Terraform code found in the answer"


@pytest.mark.parametrize("answer", ["", "   \n\t ", None])
def test_empty_answer(answer):
    found = extract_code(answer, "terraform")
    assert found.code == "" and found.reason == "the answer is empty"


@pytest.mark.parametrize("junk", ["\x00\x01\x02binary\xff\xfe" * 50, "".join(chr(i % 32) for i in range(2000))])
def test_binary_junk(junk):
    found = extract_code(junk, "terraform")
    assert found.code == ""
    assert "not text" in found.reason


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be"):
        extract_code(BUCKET, "cloudformation")


@pytest.mark.parametrize("code, language", [
    (BUCKET, "terraform"),
    (POD, "kubernetes"),
    ("import boto3\nboto3.client('s3')", "python"),
    ("#!/bin/bash\nset -e\n", "bash"),
    ('{"a": [1, 2]}', "json"),
    ("services:\n  web:\n    image: nginx\nvolumes:\n  data: {}\n", "yaml"),
    ("just words", None),
])
def test_sniff_language(code, language):
    assert sniff_language(code) == language


def test_windows_line_ends():
    found = extract_code(f"Sure:\r\n```hcl\r\n{BUCKET.replace(chr(10), chr(13) + chr(10))}\r\n```\r\nDone.", "terraform")
    assert found.code == BUCKET
    assert not found.truncated
