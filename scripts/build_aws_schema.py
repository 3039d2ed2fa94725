"""Build the AWS provider schema that `studio.iac` checks Terraform against.

    python scripts/build_aws_schema.py                      # download the two pinned releases with pip
    python scripts/build_aws_schema.py a.whl b.whl          # or read wheels you already have

The `cdktf-cdktf-provider-aws` wheels carry a jsii assembly (`_jsii/*.jsii.tgz`, file `package/.jsii`)
that lists every resource and data source of the AWS provider with its arguments and nested blocks. This
script reads one 5.x and one 6.x release and keeps their union, so that the idioms of both generations pass
(`aws_s3_bucket` with an inline `versioning` block in 5.x, the `region` argument on resources in 6.x).

An argument is required in the union only when every release that has the block requires it: code written
for the release that made it optional must not fail. Likewise a nested block is `single` (at most one of it, the
provider's MaxItems 1: the assembly types such a property as its struct, a list of them as an array) only when
every release that has it says so.

Writes `studio/iac/data/aws_schema.json.gz` (compact, sorted, gzip with a fixed mtime so a rerun with the
same wheels gives the same bytes) and `studio/iac/data/aws_schema.LICENSE` (the MPL-2.0 text the wheels
carry). Prints the resource and data-source counts per release.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# cdktf-cdktf-provider-aws release -> the AWS provider release it wraps (checked against the assembly).
PINNED_RELEASES = {"19.65.1": "5.99.1", "21.22.1": "6.25.0"}

OUT_DIR = Path(__file__).resolve().parent.parent / "studio" / "iac" / "data"

# CDK's own properties on every Config struct; Terraform's meta-arguments are checked separately.
CDK_META_PROPERTIES = {"count", "dependsOn", "forEach", "lifecycle", "provider", "provisioners", "connection"}

# The property's documentation link ends in `#snake_case_name`; the anchor is Terraform's own spelling,
# which camelCase conversion gets wrong for names like `ipv6_cidr_block` or `s3_bucket`.
ANCHOR = re.compile(r"\{@link \S+#([A-Za-z0-9_]+) ")
# A class documents what it wraps: `Represents a {@link https://.../docs/resources/s3_bucket aws_s3_bucket}.`
REPRESENTS = re.compile(r"\{@link (\S+) ([A-Za-z0-9_]+)\}")
PROVIDER_RELEASE = re.compile(r"/providers/hashicorp/aws/([0-9][^/]*)/docs")

NOTICE = (
    "Derived from the HashiCorp Terraform AWS provider schema "
    "(https://github.com/hashicorp/terraform-provider-aws) as published in the "
    "cdktf-cdktf-provider-aws wheels (https://github.com/cdktf/cdktf-provider-aws). "
    "Copyright (c) HashiCorp, Inc. Licensed under the Mozilla Public License 2.0; "
    "the full text is in aws_schema.LICENSE next to this file, and the source code is available at the "
    "addresses above. This file holds only argument and block names, which the studio uses to check code."
)


def download_wheels(releases: list[str], folder: Path) -> list[Path]:
    """Fetch the pinned wheels with pip (no dependencies) into `folder`."""
    wheels = []
    for release in releases:
        # One release per pip call: pip refuses two versions of one project in a single request.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(folder),
             f"cdktf-cdktf-provider-aws=={release}"],
            check=True,
        )
        found = sorted(folder.glob(f"cdktf_cdktf_provider_aws-{release}-*.whl"))
        if not found:
            raise SystemExit(f"pip did not leave a wheel for cdktf-cdktf-provider-aws=={release} in {folder}")
        wheels.append(found[0])
    return wheels


def read_assembly(wheel: Path) -> tuple[dict, str]:
    """Return the jsii assembly and the MPL licence text inside one wheel."""
    with zipfile.ZipFile(wheel) as archive:
        inner = [name for name in archive.namelist() if name.endswith(".jsii.tgz")]
        if not inner:
            raise SystemExit(f"{wheel}: no _jsii/*.jsii.tgz inside; is this a cdktf-cdktf-provider-aws wheel?")
        with tarfile.open(fileobj=io.BytesIO(archive.read(inner[0]))) as tar:
            assembly = json.load(tar.extractfile("package/.jsii"))
            licence = tar.extractfile("package/LICENSE").read().decode("utf-8")
    if "types" not in assembly:
        raise SystemExit(f"{wheel}: the assembly has no `types` map (schema {assembly.get('schema')!r})")
    return assembly, licence


def struct_of(type_ref: dict, types: dict) -> dict | None:
    """The provider struct a property's type names (directly, in a list, or in a union), if any."""
    text = json.dumps(type_ref)
    for fqn in re.findall(r'"fqn": "(@cdktf/provider-aws\.[^"]+)"', text):
        if types.get(fqn, {}).get("kind") == "interface":
            return types[fqn]
    return None


def snake_name(prop: dict) -> str | None:
    docs = prop.get("docs", {})
    match = ANCHOR.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    return match.group(1) if match else None


def block_schema(struct: dict, types: dict, depth: int = 0) -> dict:
    """Arguments and nested blocks of one Config (or nested block) struct."""
    arguments: dict[str, str] = {}
    blocks: dict[str, dict] = {}
    for prop in struct.get("properties", []):
        if depth == 0 and prop["name"] in CDK_META_PROPERTIES:
            continue
        name = snake_name(prop)
        if name is None:
            raise SystemExit(f"{struct['fqn']}.{prop['name']}: no documentation anchor to take the name from")
        required = not prop.get("optional", False)
        nested = struct_of(prop["type"], types)
        if nested is not None and depth < 12:
            child = block_schema(nested, types, depth + 1)
            # "`<name>` block." marks real blocks; other struct-typed properties are nested attributes
            # (`x = [{...}]`), whose keys are still worth checking.
            is_block = prop.get("docs", {}).get("summary", "").strip() == f"{name} block."
            child["required"] = required
            child["nesting"] = "block" if is_block else "attribute"
            # A block of at most one (the provider's MaxItems 1) is typed as its struct itself; a list of them as
            # an array (in a union with IResolvable).
            child["single"] = "collection" not in json.dumps(prop["type"])
            blocks[name] = child
        else:
            arguments[name] = "required" if required else "optional"
    return {"arguments": arguments, "blocks": blocks}


def extract_release(assembly: dict) -> dict:
    """{"release", "provider", "resource": {type: schema}, "data": {type: schema}} from one assembly."""
    types = assembly["types"]
    out = {"resource": {}, "data": {}, "provider": None, "release": None}
    for cls in types.values():
        if cls.get("kind") != "class":
            continue
        if not any(p["name"] == "tfResourceType" and p.get("static") for p in cls.get("properties", [])):
            continue
        link = REPRESENTS.search(cls.get("docs", {}).get("summary", ""))
        if link is None:
            raise SystemExit(f"{cls['fqn']}: cannot read which Terraform type it represents")
        url, tf_type = link.groups()
        release = PROVIDER_RELEASE.search(url)
        if release:
            out["release"] = release.group(1)
        # The config struct is the initializer's `config` parameter: its name is not always `<fqn>Config`
        # (wafv2WebAclAssociation has `...ConfigA`).
        params = {p["name"]: p for p in cls.get("initializer", {}).get("parameters", [])}
        config = types[params["config"]["type"]["fqn"]] if "config" in params else {"properties": []}
        schema = block_schema(config, types)
        base = cls.get("base", "")
        if base == "cdktf.TerraformResource":
            out["resource"][tf_type] = schema
        elif base == "cdktf.TerraformDataSource":
            out["data"][tf_type] = schema
        elif base == "cdktf.TerraformProvider":
            out["provider"] = schema
    return out


def merge(schemas: list[dict], releases: list[str]) -> dict:
    """Union of several releases' schemas for one block; see the module docstring for `required`."""
    present = [(s, r) for s, r in zip(schemas, releases) if s is not None]
    merged: dict = {"arguments": {}, "blocks": {}}
    if len(present) < len(releases):
        merged["releases"] = [r for _, r in present]
    arg_names = set().union(*(s["arguments"] for s, _ in present))
    block_names = set().union(*(s["blocks"] for s, _ in present))
    for name in sorted(arg_names - block_names):
        everywhere = all(s["arguments"].get(name) == "required" for s, _ in present)
        merged["arguments"][name] = "required" if everywhere else "optional"
    for name in sorted(block_names):
        children = [s["blocks"].get(name) for s, _ in present]
        child = merge(children, [r for _, r in present])
        child.pop("releases", None)
        child["required"] = all(c is not None and c["required"] for c in children)
        # at most one only where every release that has it says so
        child["single"] = all(c["single"] for c in children if c is not None)
        kinds = {c["nesting"] for c in children if c is not None}
        # A name that is a block in one release and a plain argument in another accepts both spellings.
        as_argument = any(name in s["arguments"] for s, _ in present)
        child["nesting"] = "block" if kinds == {"block"} and not as_argument else "attribute"
        merged["blocks"][name] = child
    return merged


def build(wheels: list[Path]) -> tuple[dict, str]:
    per_release = []
    licence = ""
    for wheel in wheels:
        assembly, licence = read_assembly(wheel)
        extracted = extract_release(assembly)
        extracted["package"] = f"cdktf-cdktf-provider-aws=={assembly['version']}"
        per_release.append(extracted)
    per_release.sort(key=lambda e: [int(x) for x in re.findall(r"\d+", e["release"])])
    releases = [e["release"] for e in per_release]
    result = {
        "notice": NOTICE,
        "releases": {
            e["release"]: {"package": e["package"], "resources": len(e["resource"]), "data_sources": len(e["data"])}
            for e in per_release
        },
        "provider": merge([e["provider"] for e in per_release], releases),
        "resource": {},
        "data": {},
    }
    for section in ("resource", "data"):
        for tf_type in sorted(set().union(*(e[section] for e in per_release))):
            result[section][tf_type] = merge([e[section].get(tf_type) for e in per_release], releases)
    return result, licence


def write(result: dict, licence: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "aws_schema.json.gz"
    raw = json.dumps(result, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    (out_dir / "aws_schema.LICENSE").write_text(licence, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheels", nargs="*", type=Path, help="cdktf-cdktf-provider-aws wheels (default: download)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels or download_wheels(list(PINNED_RELEASES), Path(tmp))
        result, licence = build(wheels)
    path = write(result, licence, args.out)
    for release, counts in result["releases"].items():
        print(f"AWS provider {release} ({counts['package']}): "
              f"{counts['resources']} resources, {counts['data_sources']} data sources")
    print(f"union: {len(result['resource'])} resources, {len(result['data'])} data sources "
          f"-> {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
