"""Realistic values for generated rows, drawn from a seeded `random.Random`: names, CIDRs, ARNs, IDs, sizes.

    >>> import random
    >>> draw = Draw(random.Random(7))
    >>> draw.bucket().startswith(draw.project) and draw.region in REGIONS
    True
    >>> draw.arn("iam", "role/app-runner").startswith("arn:aws:iam::")
    True

One `Draw` belongs to one row: it fixes the row's project word, environment, region and account so that the
names, ARNs and IDs of one answer agree with each other.
"""

from __future__ import annotations

import random
import string

PROJECTS = ("orders", "billing", "checkout", "payments", "ledger", "inventory", "catalog", "search", "media",
            "auth", "notify", "reports", "ingest", "metrics", "shipping", "pricing", "profile", "audit", "events",
            "portal", "booking", "claims", "fleet", "loyalty", "quotes", "tickets", "vault", "wiki", "crm",
            "gateway", "images", "stream", "backoffice", "partner", "survey", "invoices", "telemetry", "docs")
ENVIRONMENTS = ("prod", "staging", "dev", "qa")
TEAMS = ("platform", "data", "payments", "growth", "security", "sre", "mobile", "web", "analytics", "infra")
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-southeast-1",
           "ap-southeast-2", "ap-northeast-1", "ca-central-1", "sa-east-1", "eu-west-2")
DOMAINS = ("example.com", "example.org", "example.net", "acme-corp.io", "shopfront.dev", "northwind.app",
           "contoso.cloud", "initech.io", "globex.dev", "umbrella.tech")
COST_CENTERS = ("cc-1042", "cc-2210", "cc-3307", "cc-4471", "cc-5120", "cc-6804")


class Draw:
    """The random choices of one row, consistent with each other."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.project = rng.choice(PROJECTS)
        self.env = rng.choice(ENVIRONMENTS)
        self.team = rng.choice(TEAMS)
        self.region = rng.choice(REGIONS)
        self.account = "".join(rng.choice(string.digits[1:]) for _ in range(1)) + \
            "".join(rng.choice(string.digits) for _ in range(11))
        self.domain = rng.choice(DOMAINS)
        self._used: set[str] = set()

    # -- plain choices --------------------------------------------------------------------------------

    def choice(self, options):
        return self.rng.choice(list(options))

    def between(self, low: int, high: int, step: int = 1) -> int:
        return self.rng.randrange(low, high + 1, step)

    def coin(self, p: float = 0.5) -> bool:
        return self.rng.random() < p

    def hex(self, length: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    def alnum(self, length: int, upper: bool = False) -> str:
        letters = string.ascii_uppercase + string.digits if upper else string.ascii_lowercase + string.digits
        return "".join(self.rng.choice(letters) for _ in range(length))

    # -- names ----------------------------------------------------------------------------------------

    def name(self, noun: str = "", sep: str = "-") -> str:
        """`orders-prod-queue`, `orders-queue` or `queue-orders`: a kebab name for the row's project."""
        parts = [self.project]
        if self.coin(0.5):
            parts.append(self.env)
        if noun:
            parts.append(noun)
        return sep.join(parts)

    def camel(self, noun: str = "") -> str:
        return "".join(w.capitalize() for w in self.name(noun).split("-"))

    def bucket(self, noun: str = "") -> str:
        suffix = self.choice(("data", "assets", "logs", "exports", "uploads", "backups", "artifacts", "reports"))
        parts = [self.project, noun or suffix, self.env]
        if self.coin(0.5):
            parts.append(self.account[-4:] if self.coin() else self.region)
        return "-".join(parts)

    def hostname(self, sub: str = "") -> str:
        return f"{sub or self.choice(('api', 'app', 'www', 'admin', 'status', 'cdn', self.project))}.{self.domain}"

    def email(self) -> str:
        return f"{self.choice(('alerts', 'oncall', 'ops', self.team, 'devops', 'security'))}@{self.domain}"

    def tags(self) -> dict:
        options = [("Team", self.team), ("Environment", self.env), ("Project", self.project),
                   ("CostCenter", self.choice(COST_CENTERS)), ("ManagedBy", "terraform"), ("Owner", self.email())]
        keep = self.rng.sample(options, self.between(1, 3))
        return dict(keep)

    # -- network --------------------------------------------------------------------------------------

    def vpc_cidr(self) -> str:
        return self.choice((f"10.{self.between(0, 250)}.0.0/16", f"172.{self.between(16, 31)}.0.0/16",
                            f"10.{self.between(0, 250)}.0.0/20", f"192.168.0.0/16"))

    def subnet_cidr(self, vpc: str | None = None, index: int | None = None) -> str:
        base = (vpc or self.vpc_cidr()).split("/")[0].split(".")
        third = self.between(0, 15) if index is None else index
        return f"{base[0]}.{base[1]}.{third}.0/24"

    def ip(self, private: bool = True) -> str:
        if private:
            return f"10.{self.between(0, 250)}.{self.between(0, 250)}.{self.between(4, 250)}"
        first = self.choice((52, 34, 18, 3, 54))
        return f"{first}.{self.between(1, 250)}.{self.between(1, 250)}.{self.between(1, 250)}"

    def office_cidr(self) -> str:
        return self.choice(("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24", "203.0.113.64/26",
                            "198.51.100.128/25"))

    def az(self, index: int | None = None) -> str:
        letter = "abc"[index % 3] if index is not None else self.choice("abc")
        return f"{self.region}{letter}"

    # -- identifiers ----------------------------------------------------------------------------------

    def aws_id(self, prefix: str, length: int = 17) -> str:
        """`vpc-0a1b2c3d4e5f60718`: AWS resource ids start with their prefix, then 17 hex digits."""
        return f"{prefix}-0{self.hex(length - 1)}"

    def uuid(self) -> str:
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        """An ARN of this row's account and region; IAM, S3 and CloudFront ARNs carry no region."""
        region = region and service not in ("iam", "s3", "cloudfront", "route53")
        account = account and service != "s3"
        return (f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:"
                f"{resource}")

    def role_arn(self, noun: str = "role") -> str:
        return self.arn("iam", f"role/{self.name(noun)}", region=False)

    def kms_arn(self) -> str:
        return self.arn("kms", f"key/{self.uuid()}")

    def zone_id(self) -> str:
        return "Z" + self.alnum(self.between(12, 20), upper=True)

    def ami(self) -> str:
        return self.aws_id("ami")

    def cert_arn(self) -> str:
        return self.arn("acm", f"certificate/{self.uuid()}")

    def image(self) -> str:
        repo = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.project}"
        return self.choice((f"{repo}:{self.version()}", f"{repo}:latest", f"nginx:1.{self.between(25, 27)}"))

    def version(self) -> str:
        return f"{self.between(1, 4)}.{self.between(0, 20)}.{self.between(0, 9)}"
