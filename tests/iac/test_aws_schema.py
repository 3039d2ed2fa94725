"""The committed AWS schema and the script that builds it from cdktf wheels."""

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from studio.iac.aws_schema import SCHEMA_PATH, aws_schema
from tests.factories import load_script


def load_build_script():
    return load_script("scripts/build_aws_schema.py")


def test_committed_schema_counts_per_release():
    schema = aws_schema()
    assert schema.releases["5.99.1"]["resources"] == 1514
    assert schema.releases["5.99.1"]["data_sources"] == 608
    assert schema.releases["6.25.0"]["resources"] == 1581
    assert schema.releases["6.25.0"]["data_sources"] == 630
    assert schema.releases["5.99.1"]["package"] == "cdktf-cdktf-provider-aws==19.65.1"
    assert schema.releases["6.25.0"]["package"] == "cdktf-cdktf-provider-aws==21.22.1"
    # the union: 6.x removed OpsWorks, SimpleDB, WorkLink... and added many more
    assert len(schema.resource_types) == 1601 and len(schema.data_types) == 631
    assert schema.resource("aws_opsworks_stack").releases == ("5.99.1",)
    assert schema.resource("aws_s3_bucket").releases == ()


def test_committed_schema_carries_its_licence():
    schema = aws_schema()
    assert "Mozilla Public License 2.0" in schema.notice
    licence = (SCHEMA_PATH.parent / "aws_schema.LICENSE").read_text()
    assert "Mozilla Public License, version 2.0" in licence


def test_required_only_where_every_release_requires_it():
    schema = aws_schema()
    assert schema.resource("aws_s3_bucket_versioning").arguments["bucket"] == "required"
    assert schema.resource("aws_nat_gateway").arguments["subnet_id"] == "optional"  # required in 5.x only
    assert schema.resource("aws_s3_bucket").blocks["versioning"].nesting == "block"
    assert schema.resource("aws_security_group").blocks["ingress"].nesting == "attribute"
    # at most one (the provider's MaxItems 1) where every release says so
    assert schema.resource("aws_instance").blocks["instance_market_options"].blocks["spot_options"].single
    assert not schema.resource("aws_security_group").blocks["ingress"].single
    assert not schema.resource("aws_lb_listener_rule").blocks["condition"].single


@pytest.mark.parametrize("wrong, right", [
    ("aws_s3_bucket_versioning_policy", "aws_s3_bucket_versioning"),
    ("aws_s3_buckt", "aws_s3_bucket"),
    ("aws_lamda_function", "aws_lambda_function"),
])
def test_type_suggestions(wrong, right):
    assert aws_schema().suggest_type(wrong) == right


def test_no_suggestion_for_nonsense():
    assert aws_schema().suggest_type("aws_zzzz_qqqq_xxxx") is None


# -- the build script on small wheels made here (no network) ---------------------------------------------


def docs(release: str, anchor: str, block: bool = False) -> dict:
    link = f"{{@link https://registry.terraform.io/providers/hashicorp/aws/{release}/docs/resources/thing#{anchor} T#{anchor}}}"
    if block:
        return {"summary": f"{anchor} block.", "remarks": f"Docs at Terraform Registry: {link}"}
    return {"summary": f"Docs at Terraform Registry: {link}."}


def make_wheel(folder: Path, version: str, release: str, *, name_required: bool, with_region: bool,
               with_old: bool) -> Path:
    pre = "@cdktf/provider-aws"

    def resource(cls: str, tf_type: str, base: str, config: str, kind: str = "resources") -> dict:
        return {"kind": "class", "fqn": f"{pre}.{cls}", "base": base,
                "docs": {"summary": f"Represents a {{@link https://registry.terraform.io/providers/hashicorp/aws/"
                                    f"{release}/docs/{kind}/x {tf_type}}}."},
                "properties": [{"name": "tfResourceType", "static": True, "const": True}],
                "initializer": {"parameters": [{"name": "scope"}, {"name": "id"},
                                               {"name": "config", "type": {"fqn": f"{pre}.{config}"}}]}}

    thing_config = [
        {"name": "thingName", "optional": not name_required, "docs": docs(release, "thing_name"),
         "type": {"primitive": "string"}},
        {"name": "count", "optional": True, "docs": docs(release, "count"), "type": {"primitive": "number"}},
        {"name": "settings", "optional": True, "docs": docs(release, "settings", block=True),
         "type": {"union": {"types": [{"fqn": "cdktf.IResolvable"},
                                      {"collection": {"kind": "array", "elementtype": {"fqn": f"{pre}.ThingSettings"}}}]}}},
    ]
    thing_config.append({"name": "timeouts", "optional": True, "docs": docs(release, "timeouts", block=True),
                         "type": {"fqn": f"{pre}.ThingTimeouts"}})  # a block of at most one: its struct itself
    if with_region:
        thing_config.append({"name": "region", "optional": True, "docs": docs(release, "region"),
                             "type": {"primitive": "string"}})
    types = {
        f"{pre}.Thing": resource("Thing", "aws_thing", "cdktf.TerraformResource", "ThingConfig"),
        f"{pre}.ThingConfig": {"kind": "interface", "fqn": f"{pre}.ThingConfig", "properties": thing_config},
        f"{pre}.ThingSettings": {"kind": "interface", "fqn": f"{pre}.ThingSettings", "properties": [
            {"name": "ipv6CidrBlock", "docs": docs(release, "ipv6_cidr_block"), "type": {"primitive": "string"}}]},
        f"{pre}.ThingTimeouts": {"kind": "interface", "fqn": f"{pre}.ThingTimeouts", "properties": [
            {"name": "create", "optional": True, "docs": docs(release, "create"), "type": {"primitive": "string"}}]},
        f"{pre}.DataThing": resource("DataThing", "aws_thing", "cdktf.TerraformDataSource", "DataThingConfig",
                                     "data-sources"),
        f"{pre}.DataThingConfig": {"kind": "interface", "fqn": f"{pre}.DataThingConfig"},
        f"{pre}.Provider": resource("Provider", "aws", "cdktf.TerraformProvider", "ProviderConfig"),
        f"{pre}.ProviderConfig": {"kind": "interface", "fqn": f"{pre}.ProviderConfig", "properties": [
            {"name": "region", "optional": True, "docs": docs(release, "region"), "type": {"primitive": "string"}}]},
    }
    if with_old:
        types[f"{pre}.Old"] = resource("Old", "aws_old", "cdktf.TerraformResource", "OldConfig")
        types[f"{pre}.OldConfig"] = {"kind": "interface", "fqn": f"{pre}.OldConfig", "properties": []}
    assembly = json.dumps({"name": "@cdktf/provider-aws", "version": version, "types": types}).encode()
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:gz") as tar:
        for name, data in (("package/.jsii", assembly), ("package/LICENSE", b"Mozilla Public License, version 2.0")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    wheel = folder / f"cdktf_cdktf_provider_aws-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"cdktf_cdktf_provider_aws/_jsii/provider-aws@{version}.jsii.tgz", tar_bytes.getvalue())
    return wheel


def test_build_script_keeps_the_union_of_two_releases(tmp_path):
    build = load_build_script()
    old = make_wheel(tmp_path, "19.0.0", "5.1.0", name_required=True, with_region=False, with_old=True)
    new = make_wheel(tmp_path, "21.0.0", "6.0.0", name_required=False, with_region=True, with_old=False)
    assert build.main([str(new), str(old), "--out", str(tmp_path / "out")]) == 0
    with gzip.open(tmp_path / "out" / "aws_schema.json.gz", "rt") as handle:
        result = json.load(handle)
    assert list(result["releases"]) == ["5.1.0", "6.0.0"]  # sorted by release, whatever the argument order
    assert result["releases"]["5.1.0"] == {"package": "cdktf-cdktf-provider-aws==19.0.0", "resources": 2,
                                           "data_sources": 1}
    thing = result["resource"]["aws_thing"]
    assert thing["arguments"] == {"region": "optional", "thing_name": "optional"}  # count is CDK meta: skipped
    assert thing["blocks"]["settings"]["arguments"] == {"ipv6_cidr_block": "required"}
    assert thing["blocks"]["settings"]["nesting"] == "block"
    assert thing["blocks"]["settings"]["single"] is False  # a list of them
    assert thing["blocks"]["timeouts"]["single"] is True
    assert result["resource"]["aws_old"]["releases"] == ["5.1.0"]
    assert result["data"]["aws_thing"] == {"arguments": {}, "blocks": {}}
    assert result["provider"]["arguments"] == {"region": "optional"}
    assert (tmp_path / "out" / "aws_schema.LICENSE").read_text().startswith("Mozilla Public License")


def test_build_script_output_is_reproducible(tmp_path):
    build = load_build_script()
    wheel = make_wheel(tmp_path, "21.0.0", "6.0.0", name_required=False, with_region=True, with_old=False)
    build.main([str(wheel), "--out", str(tmp_path / "a")])
    build.main([str(wheel), "--out", str(tmp_path / "b")])
    assert (tmp_path / "a" / "aws_schema.json.gz").read_bytes() == (tmp_path / "b" / "aws_schema.json.gz").read_bytes()


@pytest.mark.parametrize("tf_type, wrong, right", [
    ("aws_s3_bucket", "name", "bucket"),
    ("aws_lambda_function", "name", "function_name"),
    ("aws_db_instance", "name", "db_name"),
    ("aws_rds_cluster", "name", "cluster_identifier"),
    ("aws_eks_node_group", "name", "node_group_name"),
    ("aws_instance", "name", "tags = { Name = ... }"),
    ("aws_s3_bucket", "bucket_name", "bucket"),
    ("aws_s3_bucket_versioning", "versioning_configuraton", "versioning_configuration"),
    ("aws_security_group_rule", "name", None),
])
def test_argument_suggestions(tf_type, wrong, right):
    schema = aws_schema()
    assert schema.suggest_argument(wrong, schema.resource(tf_type), tf_type) == right
