"""Kubernetes: safe YAML loading and kubernetes-validate's strict schemas at a pinned version."""

import pytest

from studio.iac import DEFAULT_KUBERNETES_VERSION, validate
from studio.iac.kubernetes import check_kubernetes_schema, parse_kubernetes


def schema_reasons(code: str, version: str | None = None) -> list[str]:
    parsed = parse_kubernetes(code)
    assert parsed.verdict.passed, parsed.verdict.reasons
    return [str(r) for r in check_kubernetes_schema(parsed, version).reasons]


POD = '''apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
      image: nginx:1.27
'''


def test_valid_multi_document_manifest_passes(deployment):
    report = validate(deployment, "kubernetes")
    assert report.ok, report.reasons()
    assert report.schema.score == 1.0


def test_deployment_without_selector():
    code = ('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n'
            '      labels: {app: web}\n    spec:\n      containers: [{name: web, image: "nginx:1.27"}]\n')
    assert schema_reasons(code) == ['line 5: Deployment web: spec: missing required field "selector"']


def test_unknown_field_in_a_pod_spec_points_at_the_field():
    code = POD.replace("    - name: app\n", "    - name: app\n      port: 80\n") + "  hostnetwork: true\n"
    reasons = schema_reasons(code)
    assert 'line 10: Pod p: spec: unknown field "hostnetwork" (did you mean "hostNetwork"?)' in reasons
    assert 'line 8: Pod p: spec.containers[0]: unknown field "port" (did you mean "ports"?)' in reasons


def test_wrong_type_names_the_field_and_the_value():
    code = POD.replace("spec:\n", "spec:\n  terminationGracePeriodSeconds: soon\n", 1)
    assert schema_reasons(code) == ['line 6: Pod p: spec.terminationGracePeriodSeconds: expected integer, '
                                    'got string "soon"']


def test_removed_api_version_suggests_the_current_one():
    code = 'apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: i\nspec: {}\n'
    assert schema_reasons(code) == ['line 1: Ingress i: apiVersion "extensions/v1beta1" has no Ingress in '
                                    f'Kubernetes {DEFAULT_KUBERNETES_VERSION} (use "networking.k8s.io/v1")']


def test_misspelt_kind():
    (reason,) = schema_reasons('apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: d\n')
    assert 'unknown kind "Deploymnet"' in reason and '(did you mean "Deployment"?)' in reason


def test_custom_resources_are_not_checked_and_do_not_fail():
    parsed = parse_kubernetes('apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: c\n'
                              'spec:\n  anything: goes\n')
    verdict = check_kubernetes_schema(parsed)
    assert verdict.passed
    assert verdict.reasons[0].severity == "note" and "custom resource" in verdict.reasons[0].message


def test_missing_kind_and_name():
    assert schema_reasons("apiVersion: v1\nmetadata:\n  name: x\n") == ["line 1: document 1: missing kind"]
    assert schema_reasons("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n") == [
        "line 1: ConfigMap (document 1): metadata.name is missing"]


def test_a_document_that_is_not_an_object():
    assert schema_reasons("- just\n- a list\n") == ["line 1: document 1 is a list, not a Kubernetes object"]


def test_yaml_syntax_error_is_located_in_its_document_and_others_still_count():
    code = POD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n bad: indent\n"
    verdict = parse_kubernetes(code).verdict
    assert verdict.status == "failed"
    (reason,) = verdict.reasons
    assert reason.line == 14 and "document 2 is not valid YAML" in reason.message
    assert verdict.score == 0.5


def test_duplicate_keys_are_an_error_as_in_kubectl():
    verdict = parse_kubernetes("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n  a: '2'\n").verdict
    assert verdict.status == "failed"
    assert 'key "a" is defined twice (first on line 6)' in verdict.reasons[0].message
    assert verdict.reasons[0].line == 7


def test_unsafe_yaml_tags_are_refused():
    verdict = parse_kubernetes("apiVersion: v1\nkind: ConfigMap\nmetadata: !!python/object/apply:os.system ['ls']\n")
    assert verdict.verdict.status == "failed"


def test_duplicate_objects():
    (reason,) = schema_reasons(POD + "---\n" + POD)
    assert reason == "line 10: Pod p is declared twice (first in document 1)"


def test_the_kubernetes_version_is_pinned_and_configurable():
    # resizePolicy on containers arrived in Kubernetes 1.27.
    code = POD + "      resizePolicy:\n        - resourceName: cpu\n          restartPolicy: NotRequired\n"
    assert schema_reasons(code, "1.33") == []
    (reason,) = schema_reasons(code, "1.26")
    assert 'unknown field "resizePolicy"' in reason
    report = validate(code, "kubernetes", kubernetes_version="1.26")
    assert not report.schema.passed


def test_unsupported_kubernetes_version_is_a_clear_error():
    with pytest.raises(ValueError, match="no schemas for Kubernetes 1.10"):
        check_kubernetes_schema(parse_kubernetes(POD), "1.10")


def test_errors_per_document_are_capped_and_counted():
    fields = "".join(f"  bogus{i}: {i}\n" for i in range(15))
    reasons = schema_reasons(POD.replace("spec:\n", "spec:\n" + fields, 1))
    assert len(reasons) == 15  # one reason per unknown field of the one error


def test_comment_only_and_empty_documents_are_ignored():
    parsed = parse_kubernetes("# leading comment\n---\n" + POD + "---\n---\n# trailing\n")
    assert parsed.verdict.passed
    assert len(parsed.documents) == 1
    assert parsed.documents[0].line == 3


def test_schema_score_is_graded():
    broken = POD.replace("spec:\n", "spec:\n  colour: red\n", 1)
    parsed = parse_kubernetes(broken + "---\n" + POD.replace("name: p", "name: q"))
    assert check_kubernetes_schema(parsed).score == pytest.approx(0.75)


def test_a_v1_list_is_checked_item_by_item():
    code = ("apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n"
            "  - apiVersion: v1\n    kind: Service\n    metadata: {name: s}\n    spec:\n      selectr: {app: a}\n")
    assert schema_reasons(code) == ['line 11: Service s: spec: unknown field "selectr" (did you mean "selector"?)']
    assert [doc.label for doc in parse_kubernetes(code).objects] == ["ConfigMap a", "Service s"]
