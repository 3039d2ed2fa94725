"""How generated requests say things: resource types as people name them, durations and sizes in varied forms,
and the sentence frames a request is written in.

    >>> import random
    >>> from studio.synth.values import Draw
    >>> noun("aws_cloudwatch_log_group"), noun("aws_lb_target_group"), noun("aws_s3_bucket_versioning")
    ('CloudWatch log group', 'load balancer target group', 'S3 bucket versioning')
    >>> days(Draw(random.Random(1)), 7) in ("7 days", "a week", "one week", "seven days")
    True
"""

from __future__ import annotations

from studio.synth.values import Draw

SERVICE_WORDS = {
    "s3": "S3", "ec2": "EC2", "iam": "IAM", "kms": "KMS", "sns": "SNS", "sqs": "SQS", "rds": "RDS", "db": "RDS DB",
    "ecs": "ECS", "ecr": "ECR", "eks": "EKS", "efs": "EFS", "ebs": "EBS", "emr": "EMR", "msk": "MSK", "ssm": "SSM",
    "ses": "SES", "sesv2": "SES", "vpc": "VPC", "lb": "load balancer", "alb": "ALB", "elb": "classic ELB",
    "api": "API Gateway", "apigatewayv2": "API Gateway v2", "cloudwatch": "CloudWatch", "cloudfront": "CloudFront",
    "cloudtrail": "CloudTrail", "route53": "Route 53", "dynamodb": "DynamoDB", "elasticache": "ElastiCache",
    "lambda": "Lambda", "secretsmanager": "Secrets Manager", "acm": "ACM", "acmpca": "ACM PCA", "wafv2": "WAFv2",
    "guardduty": "GuardDuty", "securityhub": "Security Hub", "config": "AWS Config", "cognito": "Cognito",
    "kinesis": "Kinesis", "glue": "Glue", "athena": "Athena", "sfn": "Step Functions", "backup": "AWS Backup",
    "opensearch": "OpenSearch", "elasticsearch": "Elasticsearch", "docdb": "DocumentDB", "neptune": "Neptune",
    "memorydb": "MemoryDB", "redshift": "Redshift", "redshiftserverless": "Redshift Serverless", "mq": "Amazon MQ",
    "codebuild": "CodeBuild", "codepipeline": "CodePipeline", "codecommit": "CodeCommit", "codedeploy": "CodeDeploy",
    "codeartifact": "CodeArtifact", "batch": "AWS Batch", "appautoscaling": "Application Auto Scaling",
    "autoscaling": "Auto Scaling", "apprunner": "App Runner", "appsync": "AppSync", "amplify": "Amplify",
    "xray": "X-Ray", "synthetics": "CloudWatch Synthetics", "inspector2": "Inspector", "macie2": "Macie",
    "organizations": "Organizations", "ram": "RAM", "transfer": "Transfer Family", "datasync": "DataSync",
    "fsx": "FSx", "networkfirewall": "Network Firewall", "shield": "Shield", "prometheus": "Managed Prometheus",
    "grafana": "Managed Grafana", "scheduler": "EventBridge Scheduler", "pipes": "EventBridge Pipes",
    "servicediscovery": "Cloud Map", "vpn": "VPN", "ami": "AMI", "eip": "Elastic IP", "flow": "VPC flow",
    "budgets": "AWS Budgets", "globalaccelerator": "Global Accelerator", "dx": "Direct Connect",
    "kinesisanalyticsv2": "Managed Flink", "appconfig": "AppConfig", "lightsail": "Lightsail",
    "elastic": "Elastic Beanstalk", "dms": "DMS", "ce": "Cost Explorer", "account": "account",
    "networkmanager": "Network Manager", "imagebuilder": "Image Builder", "lakeformation": "Lake Formation",
    "sagemaker": "SageMaker", "bedrock": "Bedrock", "apigateway": "API Gateway", "wafregional": "WAF Regional",
    "iot": "IoT", "ssoadmin": "IAM Identity Center", "accessanalyzer": "IAM Access Analyzer",
    "resourcegroups": "Resource Groups", "servicequotas": "Service Quotas", "chatbot": "Chatbot",
    "cloudformation": "CloudFormation", "cloudcontrolapi": "Cloud Control", "s3control": "S3 Control",
    "ecrpublic": "ECR Public", "opensearchserverless": "OpenSearch Serverless", "vpclattice": "VPC Lattice",
    "route53resolver": "Route 53 Resolver", "sagemakerruntime": "SageMaker", "devicefarm": "Device Farm",
    "kendra": "Kendra", "location": "Location Service", "evidently": "Evidently", "rum": "CloudWatch RUM",
    "oam": "CloudWatch Observability Access Manager", "internetmonitor": "Internet Monitor",
    "cloudwatchlogs": "CloudWatch Logs", "securitylake": "Security Lake", "detective": "Detective",
    "fms": "Firewall Manager", "verifiedaccess": "Verified Access", "mwaa": "Managed Airflow",
    "keyspaces": "Keyspaces", "timestreamwrite": "Timestream", "qldb": "QLDB", "dax": "DAX", "swf": "SWF",
    "emrserverless": "EMR Serverless", "elastictranscoder": "Elastic Transcoder", "workspaces": "WorkSpaces",
}
WORDS = {"acl": "ACL", "ip": "IP", "ipv6": "IPv6", "dns": "DNS", "api": "API", "ssl": "SSL", "tls": "TLS",
         "vpc": "VPC", "nat": "NAT", "kms": "KMS", "iam": "IAM", "oidc": "OIDC", "saml": "SAML", "sns": "SNS",
         "sqs": "SQS", "s3": "S3", "waf": "WAF", "http": "HTTP", "ebs": "EBS", "ssh": "SSH", "cidr": "CIDR",
         "tgw": "TGW", "arn": "ARN", "url": "URL", "json": "JSON", "rest": "REST", "ami": "AMI", "mfa": "MFA",
         "sso": "SSO", "openid": "OpenID", "gp3": "gp3", "ecs": "ECS", "eks": "EKS", "ec2": "EC2", "cors": "CORS"}


def noun(tf_type: str) -> str:
    """How a person names a resource type: `aws_cloudwatch_log_group` -> `CloudWatch log group`."""
    words = tf_type.split("_")[1:]
    if not words:
        return tf_type
    head, rest = words[0], words[1:]
    if head == "api" and rest[:1] == ["gateway"]:
        return " ".join(["API Gateway", *[WORDS.get(w, w) for w in rest[1:]]]).strip()
    first = SERVICE_WORDS.get(head, WORDS.get(head, head))
    tail = [WORDS.get(w, w) for w in rest]
    if head == "lb" and tail[:1] == ["load balancer"]:
        tail = tail[1:]
    text = " ".join([first, *tail]).strip()
    return text.replace("VPC VPC", "VPC").replace("load balancer lb", "load balancer")


def article(text: str) -> str:
    lowered = text.lower()
    vowel = lowered[:1] in "aeiou" or lowered.startswith(("s3", "sns", "sqs", "rds", "ec2", "ebs", "efs", "ecs", "ecr",
                                                         "eks", "emr", "msk", "ssm", "ses", "alb", "nlb", "ami",
                                                         "iam", "acm", "x-ray", "http", "fsx", "nat", "mq"))
    if lowered.startswith(("eu", "user", "one", "unique")):
        vowel = False
    return "an" if vowel else "a"


def a(text: str) -> str:
    return f"{article(text)} {text}"


def argument_words(name: str) -> str:
    """`retention_in_days` -> `retention in days`, `kms_key_id` -> `KMS key id`."""
    return " ".join(WORDS.get(w, w) for w in name.split("_"))


DAY_WORDS = {1: ("1 day", "a day", "one day"), 3: ("3 days", "three days"), 5: ("5 days", "five days"),
             7: ("7 days", "a week", "one week", "seven days"), 14: ("14 days", "two weeks", "2 weeks"),
             30: ("30 days", "thirty days"), 60: ("60 days", "sixty days"), 90: ("90 days", "ninety days"),
             180: ("180 days", "about six months (180 days)"), 365: ("365 days", "a year", "one year"),
             730: ("730 days", "two years")}
SECOND_WORDS = {30: ("30 seconds", "half a minute"), 60: ("60 seconds", "a minute", "one minute", "1 minute"),
                120: ("120 seconds", "two minutes", "2 minutes"), 300: ("300 seconds", "5 minutes", "five minutes"),
                600: ("600 seconds", "10 minutes", "ten minutes"), 900: ("900 seconds", "15 minutes"),
                3600: ("3600 seconds", "an hour", "one hour"), 86400: ("86400 seconds", "a day", "one day"),
                1209600: ("1209600 seconds", "14 days", "two weeks"), 345600: ("345600 seconds", "4 days"),
                604800: ("604800 seconds", "a week", "7 days")}


def days(draw: Draw, n: int) -> str:
    return draw.choice(DAY_WORDS.get(n, (f"{n} days",)))


def seconds(draw: Draw, n: int) -> str:
    return draw.choice(SECOND_WORDS.get(n, (f"{n} seconds",)))


def gigabytes(draw: Draw, n: int) -> str:
    return draw.choice((f"{n} GB", f"{n} GiB", f"{n}GB", f"{n} gigabytes"))


def join(parts: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


# Request frames; `{what}` is the thing with its stated values, `{tool}` "Terraform" or "Kubernetes".
TERRAFORM_FRAMES = (
    "Create {what}.", "Write Terraform for {what}.", "I need {what}.", "Terraform: {what}.", "{What}.",
    "Add {what} to our Terraform.", "Can you write the Terraform for {what}?", "Set up {what} with Terraform.",
    "Please define {what}.", "Give me the HCL for {what}.", "Provision {what}.",
    "We need {what} for the {project} service. Terraform please.", "Declare {what}.",
    "Could you add {what}? Use the AWS provider.", "{What}, in Terraform.", "Make {what}.",
    "Hi! I'd like {what} managed in Terraform.", "New resource: {what}.",
)
KUBERNETES_FRAMES = (
    "Create {what}.", "Write a Kubernetes manifest for {what}.", "I need {what}.", "{What}.",
    "Give me the YAML for {what}.", "Kubernetes: {what}.", "Can you write {what}?", "Define {what}.",
    "Please add {what} to the cluster manifests.", "Manifest for {what}, please.", "Set up {what}.",
    "We need {what} for {project}. YAML please.", "Hey, could you write {what} in YAML?", "Deploy {what}.",
)


def frame(draw: Draw, frames: tuple[str, ...], what: str) -> str:
    text = draw.choice(frames)
    if not text.startswith("{What}") and what.split(" ", 1)[0] in ("A", "An", "Two"):
        what = what[:1].lower() + what[1:]
    return text.format(what=what, What=what[:1].upper() + what[1:], project=draw.project)
