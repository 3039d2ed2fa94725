"""Kubernetes rows: every kind of the seed dataset and the other stable kinds of the pinned schema version, with
the fields people set (probes, resources, security contexts, affinity, volumes, selectors, RBAC rules).

    >>> import random
    >>> from studio.synth.kubernetes import KINDS, manifest_row
    >>> "Deployment" in KINDS and "PriorityClass" in KINDS
    True
    >>> row = manifest_row("Deployment", random.Random(4), "gen-k8s-000001")
    >>> row.kind, row.intent["require"][0]["kind"]
    ('kubernetes', 'Deployment')

A kind's builder returns a `Manifest`: the objects, the facts the request states (a path from the object's root,
the intent matcher, the phrase), and how to name the whole. Several objects that belong together (a Deployment
with its Service, HPA and PDB) are wired by labels and names, and the intent checks it with `selects` and
`targets`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import yaml

from studio.dataset import Row
from studio.synth import words
from studio.synth.values import Draw

APPS = ("web", "api", "worker", "frontend", "backend", "gateway", "auth", "search", "cart", "checkout", "billing",
        "orders", "payments", "inventory", "catalog", "notifier", "scheduler", "ingest", "reports", "admin")
IMAGES = {"web": "nginx:1.27", "frontend": "nginx:1.27-alpine", "gateway": "envoyproxy/envoy:v1.31.2",
          "cache": "redis:7.4", "db": "postgres:16.4", "queue": "rabbitmq:3.13-management",
          "search": "opensearchproject/opensearch:2.17.0", "metrics": "prom/prometheus:v2.54.1"}
NAMESPACES = ("default", "prod", "staging", "apps", "platform", "data", "payments", "web", "tools", "monitoring")


@dataclass
class KFact:
    """A stated value: the object (kind, name), the path from its root, the matcher, the phrase."""

    kind: str
    name: str
    path: str
    matcher: object
    say: str = ""


@dataclass
class Manifest:
    objects: list[dict]
    facts: list[KFact]
    what: str
    tags: list[str]
    links: list[dict] = field(default_factory=list)  # extra clauses: selects / targets


class K:
    """Collects the objects and facts of one manifest row."""

    def __init__(self, draw: Draw):
        self.d = draw
        self.objects: list[dict] = []
        self.facts: list[KFact] = []
        self.links: list[dict] = []
        self.app = draw.choice(APPS)
        self.ns = draw.choice(NAMESPACES)

    def obj(self, api: str, kind: str, name: str, namespaced: bool = True, labels: dict | None = None) -> dict:
        meta: dict = {"name": name}
        if namespaced and self.ns != "default":
            meta["namespace"] = self.ns
        if labels:
            meta["labels"] = dict(labels)
        value = {"apiVersion": api, "kind": kind, "metadata": meta}
        self.objects.append(value)
        return value

    def fact(self, obj: dict, path: str, matcher, say: str = "") -> None:
        self.facts.append(KFact(obj["kind"], obj["metadata"]["name"], path, matcher, say))

    def manifest(self, what: str, topic: str) -> Manifest:
        said = [f.say for f in self.facts if f.say]
        text = what + (" " + said[0] if said and said[0].startswith(("named", "called")) else "")
        rest = said[1:] if said and said[0].startswith(("named", "called")) else said
        if rest:
            text += (" with " if self.d.coin() else ": ") + words.join(rest)
        if self.ns != "default" and any(o["metadata"].get("namespace") for o in self.objects):
            text += f", in the {self.ns} namespace"
            for obj in self.objects:
                if obj["metadata"].get("namespace"):
                    self.fact(obj, "metadata.namespace", self.ns)
        return Manifest(self.objects, self.facts, text, [topic, "generated"], self.links)


# ---------------------------------------------------------------------------------------------------------
# Pod templates
# ---------------------------------------------------------------------------------------------------------


def _image(k: K) -> str:
    d = k.d
    return IMAGES.get(k.app) or d.choice((f"ghcr.io/{d.team}/{k.app}:{d.version()}",
                                          f"registry.{d.domain}/{k.app}:{d.version()}",
                                          f"{d.account}.dkr.ecr.{d.region}.amazonaws.com/{k.app}:{d.version()}"))


def pod_spec(k: K, obj: dict, root: str, *, port: int | None = None, restart: str | None = None,
             extras: float = 0.5) -> dict:
    """A pod spec with a container and a random subset of what people set; states what it sets."""
    d = k.d
    image = _image(k)
    container: dict = {"name": k.app, "image": image}
    c = f"{root}.containers"
    k.fact(obj, f"{c}.image", image, d.choice((f"image {image}", f"running {image}", f"from {image}")))
    if port:
        container["ports"] = [{"containerPort": port}]
        k.fact(obj, f"{c}.ports.containerPort", port, d.choice((f"port {port}", f"container port {port}",
                                                                f"listening on {port}")))
    spec: dict = {}
    if d.coin(extras):
        cpu_req, mem_req, cpu_lim, mem_lim = d.choice((("100m", "128Mi", "500m", "256Mi"),
                                                       ("250m", "256Mi", "1", "512Mi"),
                                                       ("500m", "512Mi", "2", "1Gi"),
                                                       ("50m", "64Mi", "200m", "128Mi")))
        container["resources"] = {"requests": {"cpu": cpu_req, "memory": mem_req},
                                  "limits": {"cpu": cpu_lim, "memory": mem_lim}}
        k.fact(obj, f"{c}.resources.requests.cpu", cpu_req, f"requests of {cpu_req} CPU and {mem_req} memory")
        k.fact(obj, f"{c}.resources.requests.memory", mem_req)
        k.fact(obj, f"{c}.resources.limits.memory", mem_lim, f"a {mem_lim} memory limit")
        container["resources"]["limits"]["cpu"] = cpu_lim
        k.fact(obj, f"{c}.resources.limits.cpu", cpu_lim, f"a CPU limit of {cpu_lim}")
    if port and d.coin(extras):
        path = d.choice(("/healthz", "/ready", "/health", "/livez"))
        delay = d.choice((5, 10, 15))
        container["readinessProbe"] = {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": delay,
                                       "periodSeconds": 10}
        k.fact(obj, f"{c}.readinessProbe.httpGet.path", path, f"a readiness probe on {path}")
        if d.coin():
            container["livenessProbe"] = {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": delay * 2}
            k.fact(obj, f"{c}.livenessProbe.httpGet.path", path, "a liveness probe on the same path")
    if d.coin(extras * 0.8):
        user = d.choice((1000, 10001, 65532))
        spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": user}
        container["securityContext"] = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}}
        k.fact(obj, f"{root}.securityContext.runAsNonRoot", True, f"running as non-root user {user}")
        k.fact(obj, f"{root}.securityContext.runAsUser", user)
        k.fact(obj, f"{c}.securityContext.readOnlyRootFilesystem", True, "a read-only root filesystem")
        k.fact(obj, f"{c}.securityContext.allowPrivilegeEscalation", False, "no privilege escalation")
    if d.coin(extras * 0.6):
        key, value = d.choice((("LOG_LEVEL", "info"), ("PORT", str(port or 8080)), ("APP_ENV", d.env),
                               ("FEATURE_FLAGS", "beta")))
        container["env"] = [{"name": key, "value": value}]
        k.fact(obj, f"{c}.env.name", key, f"env {key}={value}")
        k.fact(obj, f"{c}.env.value", value)
    if d.coin(extras * 0.5):
        kind = d.choice(("configMap", "secret", "emptyDir"))
        mount = d.choice(("/etc/app", "/config", "/var/cache/app", "/tmp"))
        vol = {"name": "data"}
        if kind == "configMap":
            source = f"{k.app}-config"
            vol["configMap"] = {"name": source}
            said = f"the ConfigMap {source} mounted at {mount}"
            k.fact(obj, f"{root}.volumes.configMap.name", source)
        elif kind == "secret":
            source = f"{k.app}-tls"
            vol["secret"] = {"secretName": source}
            said = f"the Secret {source} mounted at {mount}"
            k.fact(obj, f"{root}.volumes.secret.secretName", source)
        else:
            vol["emptyDir"] = {}
            said = f"an emptyDir mounted at {mount}"
        spec["volumes"] = [vol]
        container["volumeMounts"] = [{"name": "data", "mountPath": mount}]
        k.fact(obj, f"{c}.volumeMounts.mountPath", mount, said)
    if d.coin(extras * 0.4):
        pool = d.choice(("general", "compute", "memory", "arm64"))
        spec["nodeSelector"] = {"node-pool": pool}
        k.fact(obj, f"{root}.nodeSelector[node-pool]", pool, f"scheduled on node-pool={pool}")
    if d.coin(extras * 0.3):
        spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": k.app, "effect": "NoSchedule"}]
        k.fact(obj, f"{root}.tolerations.key", "dedicated", f"tolerating the dedicated={k.app}:NoSchedule taint")
    if d.coin(extras * 0.3):
        spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": k.app}},
                                               "topologyKey": "kubernetes.io/hostname"}}]}}
        k.fact(obj, f"{root}.affinity.podAntiAffinity", {"exists": True}, "pods spread across nodes by anti-affinity")
    if d.coin(extras * 0.3):
        sa = f"{k.app}-sa"
        spec["serviceAccountName"] = sa
        k.fact(obj, f"{root}.serviceAccountName", sa, f"service account {sa}")
    if restart:
        spec["restartPolicy"] = restart
    spec["containers"] = [container]
    # Readable order: containers first, the rest after.
    return {"containers": spec.pop("containers"), **spec}


def workload(k: K, kind: str, api: str = "apps/v1") -> Manifest:
    d = k.d
    name = k.app
    labels = {"app": name}
    obj = k.obj(api, kind, name, labels=labels)
    k.fact(obj, "metadata.name", name, d.choice((f"named {name}", f"called {name}")))
    port = d.choice((80, 8080, 3000, 8000, 9090))
    spec: dict = {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        replicas = d.between(2, 6)
        spec["replicas"] = replicas
        k.fact(obj, "spec.replicas", replicas, d.choice((f"{replicas} replicas", f"{replicas} pods")))
    if kind == "StatefulSet":
        spec["serviceName"] = name
        k.fact(obj, "spec.serviceName", name, f"headless service {name}")
    spec["selector"] = {"matchLabels": dict(labels)}
    template = {"metadata": {"labels": dict(labels)},
                "spec": pod_spec(k, obj, "spec.template.spec", port=port, extras=0.6)}
    spec["template"] = template
    if kind == "Deployment" and d.coin(0.3):
        surge = d.choice(("25%", 1))
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": 0}}
        k.fact(obj, "spec.strategy.rollingUpdate.maxUnavailable", 0, "zero unavailable pods during rollouts")
    if kind == "StatefulSet":
        size = d.choice(("1Gi", "10Gi", "20Gi", "50Gi"))
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}]
        template["spec"]["containers"][0].setdefault("volumeMounts", []).append({"name": "data",
                                                                                 "mountPath": "/data"})
        k.fact(obj, "spec.volumeClaimTemplates.spec.resources.requests.storage", size, f"{size} of storage per pod")
    if kind == "DaemonSet" and d.coin(0.5):
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
        k.fact(obj, "spec.updateStrategy.type", "RollingUpdate", "rolling updates one node at a time")
    obj["spec"] = spec
    return k.manifest(words.a(kind), kind.lower())


def batch(k: K, kind: str) -> Manifest:
    d = k.d
    name = d.choice(("db-migrate", "report", "cleanup", "backup", "sync", "reindex", "export"))
    obj = k.obj("batch/v1", kind, name)
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.app = name
    command = d.choice((["python", "manage.py", "migrate"], ["/bin/sh", "-c", "echo done"], ["node", "jobs/run.js"]))
    root = "spec.template.spec" if kind == "Job" else "spec.jobTemplate.spec.template.spec"
    pod = pod_spec(k, obj, root, restart=d.choice(("OnFailure", "Never")), extras=0.4)
    pod["containers"][0]["command"] = command
    job_spec: dict = {}
    limit = d.choice((2, 3, 4, 6))
    job_spec["backoffLimit"] = limit
    prefix = "spec" if kind == "Job" else "spec.jobTemplate.spec"
    k.fact(obj, f"{prefix}.backoffLimit", limit, f"at most {limit} retries")
    if d.coin(0.4):
        ttl = d.choice((300, 3600, 86400))
        job_spec["ttlSecondsAfterFinished"] = ttl
        k.fact(obj, f"{prefix}.ttlSecondsAfterFinished", ttl, f"cleaned up {words.seconds(d, ttl)} after finishing")
    job_spec["template"] = {"spec": pod}
    if kind == "Job":
        obj["spec"] = job_spec
    else:
        schedule, said = d.choice((("0 2 * * *", "every night at 02:00"), ("*/15 * * * *", "every 15 minutes"),
                                   ("0 * * * *", "every hour"), ("30 6 * * 1-5", "at 06:30 on weekdays"),
                                   ("0 0 * * 0", "every Sunday at midnight")))
        obj["spec"] = {"schedule": schedule, "concurrencyPolicy": d.choice(("Forbid", "Replace")),
                       "jobTemplate": {"spec": job_spec}}
        k.fact(obj, "spec.schedule", schedule, f"running {said} ({schedule})")
        k.fact(obj, "spec.concurrencyPolicy", obj["spec"]["concurrencyPolicy"],
               f"concurrency policy {obj['spec']['concurrencyPolicy']}")
        if d.coin(0.4):
            obj["spec"]["timeZone"] = d.choice(("Europe/Berlin", "America/New_York", "Etc/UTC"))
            k.fact(obj, "spec.timeZone", obj["spec"]["timeZone"], f"in the {obj['spec']['timeZone']} time zone")
    return k.manifest(words.a(kind), kind.lower())


# ---------------------------------------------------------------------------------------------------------
# One builder per kind
# ---------------------------------------------------------------------------------------------------------

KINDS: dict[str, Callable[[K], Manifest]] = {}


def kind(name: str):
    def register(fn):
        KINDS[name] = fn
        return fn
    return register


for _name in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
    KINDS[_name] = (lambda n: lambda k: workload(k, n))(_name)
for _name in ("Job", "CronJob"):
    KINDS[_name] = (lambda n: lambda k: batch(k, n))(_name)


@kind("Pod")
def pod(k: K) -> Manifest:
    obj = k.obj("v1", "Pod", k.app, labels={"app": k.app})
    k.fact(obj, "metadata.name", k.app, f"named {k.app}")
    obj["spec"] = pod_spec(k, obj, "spec", port=k.d.choice((80, 8080)), extras=0.7)
    return k.manifest("a Pod", "pod")


@kind("PodTemplate")
def pod_template(k: K) -> Manifest:
    obj = k.obj("v1", "PodTemplate", f"{k.app}-template")
    k.fact(obj, "metadata.name", f"{k.app}-template", f"named {k.app}-template")
    obj["template"] = {"metadata": {"labels": {"app": k.app}}, "spec": pod_spec(k, obj, "template.spec", extras=0.4)}
    return k.manifest("a PodTemplate", "podtemplate")


@kind("ReplicationController")
def replication_controller(k: K) -> Manifest:
    d = k.d
    replicas = d.between(2, 4)
    obj = k.obj("v1", "ReplicationController", k.app)
    k.fact(obj, "spec.replicas", replicas, f"{replicas} replicas")
    obj["spec"] = {"replicas": replicas, "selector": {"app": k.app},
                   "template": {"metadata": {"labels": {"app": k.app}},
                                "spec": pod_spec(k, obj, "spec.template.spec", port=80, extras=0.3)}}
    return k.manifest(f"a legacy ReplicationController {k.app}", "replicationcontroller")


@kind("Service")
def service(k: K) -> Manifest:
    d = k.d
    kind_ = d.choice(("ClusterIP", "ClusterIP", "NodePort", "LoadBalancer"))
    port, target = d.choice(((80, 8080), (443, 8443), (80, 3000), (5432, 5432), (6379, 6379)))
    obj = k.obj("v1", "Service", k.app)
    spec = {"type": kind_, "selector": {"app": k.app}, "ports": [{"name": "http", "port": port,
                                                                  "targetPort": target}]}
    k.fact(obj, "metadata.name", k.app, f"named {k.app}")
    k.fact(obj, "spec.type", kind_, f"of type {kind_}")
    k.fact(obj, "spec.selector.app", k.app, f"selecting app={k.app}")
    k.fact(obj, "spec.ports.port", port, f"port {port} to target port {target}")
    k.fact(obj, "spec.ports.targetPort", target)
    if kind_ == "NodePort":
        node = d.between(30000, 32767)
        spec["ports"][0]["nodePort"] = node
        k.fact(obj, "spec.ports.nodePort", node, f"node port {node}")
    if kind_ == "ClusterIP" and d.coin(0.2):
        spec["clusterIP"] = "None"
        k.fact(obj, "spec.clusterIP", "None", "headless")
    obj["spec"] = spec
    return k.manifest("a Service", "service")


@kind("ConfigMap")
def config_map(k: K) -> Manifest:
    d = k.d
    name = f"{k.app}-config"
    obj = k.obj("v1", "ConfigMap", name)
    k.fact(obj, "metadata.name", name, f"named {name}")
    keys = d.rng.sample([("LOG_LEVEL", d.choice(("info", "debug", "warn"))), ("CACHE_TTL", str(d.choice((60, 300)))),
                         ("API_URL", f"https://{d.hostname('api')}"), ("REGION", d.region),
                         ("MAX_CONNECTIONS", str(d.choice((50, 100, 200))))], d.between(2, 3))
    obj["data"] = dict(keys)
    for key, value in keys:
        k.fact(obj, f"data.{key}", value, f"{key}={value}")
    return k.manifest("a ConfigMap", "configmap")


@kind("Secret")
def secret(k: K) -> Manifest:
    d = k.d
    if d.coin():
        name = f"{k.app}-db"
        obj = k.obj("v1", "Secret", name)
        obj["type"] = "Opaque"
        user = f"{k.app}_user"
        obj["stringData"] = {"DB_USER": user, "DB_HOST": f"{k.app}-db.{k.ns}.svc.cluster.local"}
        k.fact(obj, "stringData.DB_USER", user, f"DB_USER {user}")
        k.fact(obj, "type", "Opaque", "an Opaque secret")
    else:
        name = f"{k.app}-registry"
        obj = k.obj("v1", "Secret", name)
        obj["type"] = "kubernetes.io/dockerconfigjson"
        obj["data"] = {".dockerconfigjson": "eyJhdXRocyI6e319"}
        k.fact(obj, "type", "kubernetes.io/dockerconfigjson", "of type kubernetes.io/dockerconfigjson")
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.facts.insert(0, k.facts.pop())
    return k.manifest("a Secret", "secret")


@kind("Namespace")
def namespace(k: K) -> Manifest:
    d = k.d
    name = d.choice(("team-" + d.team, k.app, f"{d.project}-{d.env}"))
    obj = k.obj("v1", "Namespace", name, namespaced=False)
    level = d.choice(("restricted", "baseline"))
    obj["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": level, "team": d.team}
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.fact(obj, "metadata.labels[pod-security.kubernetes.io/enforce]", level,
           f"enforcing the {level} pod security standard")
    k.fact(obj, "metadata.labels.team", d.team, f"labelled team={d.team}")
    return k.manifest("a Namespace", "namespace")


@kind("ServiceAccount")
def service_account(k: K) -> Manifest:
    d = k.d
    name = f"{k.app}-sa"
    obj = k.obj("v1", "ServiceAccount", name)
    k.fact(obj, "metadata.name", name, f"named {name}")
    if d.coin():
        role = d.role_arn(k.app)
        obj["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": role}
        k.fact(obj, "metadata.annotations[eks.amazonaws.com/role-arn]", role, f"annotated for IRSA with {role}")
    else:
        obj["automountServiceAccountToken"] = False
        k.fact(obj, "automountServiceAccountToken", False, "no automounted token")
    return k.manifest("a ServiceAccount", "serviceaccount")


RULES = ((["", "pods"], ["get", "list", "watch"], "read pods"),
         (["", "configmaps"], ["get", "list"], "read configmaps"),
         (["apps", "deployments"], ["get", "list", "patch"], "read and patch deployments"),
         (["batch", "jobs"], ["create", "get", "list", "delete"], "manage jobs"),
         (["", "secrets"], ["get"], "get secrets"))


def _rule(k: K, obj: dict, path: str = "rules") -> dict:
    (group, resource), verbs, said = k.d.choice(RULES)
    k.fact(obj, f"{path}.resources", {"contains": resource}, f"allowed to {said} ({', '.join(verbs)})")
    k.fact(obj, f"{path}.verbs", {"contains": verbs[0]})
    return {"apiGroups": [group], "resources": [resource], "verbs": verbs}


@kind("Role")
def role(k: K) -> Manifest:
    name = f"{k.app}-reader"
    obj = k.obj("rbac.authorization.k8s.io/v1", "Role", name)
    k.fact(obj, "metadata.name", name, f"named {name}")
    obj["rules"] = [_rule(k, obj)]
    return k.manifest("a Role", "rbac")


@kind("ClusterRole")
def cluster_role(k: K) -> Manifest:
    name = f"{k.app}-{k.d.choice(('viewer', 'operator', 'reader'))}"
    obj = k.obj("rbac.authorization.k8s.io/v1", "ClusterRole", name, namespaced=False)
    k.fact(obj, "metadata.name", name, f"named {name}")
    obj["rules"] = [_rule(k, obj)]
    return k.manifest("a ClusterRole", "rbac")


def _binding(k: K, cluster: bool) -> Manifest:
    kind_ = "ClusterRoleBinding" if cluster else "RoleBinding"
    role_kind = "ClusterRole" if cluster or k.d.coin(0.3) else "Role"
    role_name = f"{k.app}-reader"
    sa = f"{k.app}-sa"
    k.ns = k.ns if k.ns != "default" else "apps"
    role_obj = k.obj("rbac.authorization.k8s.io/v1", role_kind, role_name, namespaced=role_kind == "Role")
    role_obj["rules"] = [_rule(k, role_obj)]
    sa_obj = k.obj("v1", "ServiceAccount", sa)
    obj = k.obj("rbac.authorization.k8s.io/v1", kind_, f"{k.app}-binding", namespaced=not cluster)
    obj["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name}
    obj["subjects"] = [{"kind": "ServiceAccount", "name": sa, "namespace": k.ns}]
    k.fact(sa_obj, "metadata.name", sa, f"for the service account {sa}")
    k.links.append({"kind": kind_, "targets": role_kind})
    k.links.append({"kind": kind_, "targets": "ServiceAccount"})
    return k.manifest(f"a {role_kind} bound by a {kind_} to a ServiceAccount", "rbac")


KINDS["RoleBinding"] = lambda k: _binding(k, False)
KINDS["ClusterRoleBinding"] = lambda k: _binding(k, True)


@kind("Ingress")
def ingress(k: K) -> Manifest:
    d = k.d
    host = d.hostname(k.app)
    cls = d.choice(("nginx", "alb", "traefik"))
    svc = k.obj("v1", "Service", k.app)
    svc["spec"] = {"selector": {"app": k.app}, "ports": [{"port": 80, "targetPort": 8080}]}
    obj = k.obj("networking.k8s.io/v1", "Ingress", k.app)
    path = d.choice(("/", "/api", "/app"))
    obj["spec"] = {"ingressClassName": cls, "rules": [{"host": host, "http": {"paths": [{
        "path": path, "pathType": "Prefix", "backend": {"service": {"name": k.app, "port": {"number": 80}}}}]}}]}
    k.fact(obj, "spec.ingressClassName", cls, f"class {cls}")
    k.fact(obj, "spec.rules.host", host, f"for {host}")
    k.fact(obj, "spec.rules.http.paths.path", path, f"routing {path} to the Service {k.app} on port 80")
    if d.coin(0.6):
        obj["spec"]["tls"] = [{"hosts": [host], "secretName": f"{k.app}-tls"}]
        k.fact(obj, "spec.tls.secretName", f"{k.app}-tls", f"TLS from the secret {k.app}-tls")
    k.links.append({"kind": "Ingress", "targets": "Service"})
    return k.manifest("an Ingress and its Service", "ingress")


@kind("IngressClass")
def ingress_class(k: K) -> Manifest:
    d = k.d
    name, controller = d.choice((("nginx", "k8s.io/ingress-nginx"), ("alb", "ingress.k8s.aws/alb"),
                                 ("traefik", "traefik.io/ingress-controller")))
    obj = k.obj("networking.k8s.io/v1", "IngressClass", name, namespaced=False)
    obj["spec"] = {"controller": controller}
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.fact(obj, "spec.controller", controller, f"for the controller {controller}")
    if d.coin():
        obj["metadata"]["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
        k.fact(obj, "metadata.annotations[ingressclass.kubernetes.io/is-default-class]", "true", "as the default class")
    return k.manifest("an IngressClass", "ingress")


@kind("NetworkPolicy")
def network_policy(k: K) -> Manifest:
    d = k.d
    source = d.choice(("frontend", "gateway", "web"))
    port = d.choice((8080, 5432, 6379, 9090))
    obj = k.obj("networking.k8s.io/v1", "NetworkPolicy", f"{k.app}-ingress")
    obj["spec"] = {"podSelector": {"matchLabels": {"app": k.app}}, "policyTypes": ["Ingress"],
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": source}}}],
                                "ports": [{"protocol": "TCP", "port": port}]}]}
    k.fact(obj, "spec.podSelector.matchLabels.app", k.app, f"for pods app={k.app}")
    k.fact(obj, "spec.ingress.from.podSelector.matchLabels.app", source, f"admitting only app={source}")
    k.fact(obj, "spec.ingress.ports.port", port, f"on TCP {port}")
    return k.manifest("a NetworkPolicy", "networkpolicy")


@kind("HorizontalPodAutoscaler")
def hpa(k: K) -> Manifest:
    d = k.d
    low, high, cpu = d.between(2, 3), d.between(5, 20), d.choice((60, 70, 75, 80))
    dep = k.obj("apps/v1", "Deployment", k.app, labels={"app": k.app})
    dep["spec"] = {"selector": {"matchLabels": {"app": k.app}},
                   "template": {"metadata": {"labels": {"app": k.app}},
                                "spec": pod_spec(k, dep, "spec.template.spec", port=8080, extras=0.2)}}
    obj = k.obj("autoscaling/v2", "HorizontalPodAutoscaler", k.app)
    obj["spec"] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": k.app},
                   "minReplicas": low, "maxReplicas": high,
                   "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                       "type": "Utilization", "averageUtilization": cpu}}}]}
    k.fact(obj, "spec.minReplicas", low, f"between {low}")
    k.fact(obj, "spec.maxReplicas", high, f"{high} replicas")
    k.fact(obj, "spec.metrics.resource.target.averageUtilization", cpu, f"targeting {cpu}% CPU")
    k.links.append({"kind": "HorizontalPodAutoscaler", "targets": "Deployment"})
    return k.manifest(f"a Deployment {k.app} and an HPA scaling it", "hpa")


@kind("PodDisruptionBudget")
def pdb(k: K) -> Manifest:
    d = k.d
    obj = k.obj("policy/v1", "PodDisruptionBudget", f"{k.app}-pdb")
    if d.coin():
        n = d.between(1, 3)
        obj["spec"] = {"minAvailable": n}
        k.fact(obj, "spec.minAvailable", n, f"keeping at least {n} pods available")
    else:
        obj["spec"] = {"maxUnavailable": 1}
        k.fact(obj, "spec.maxUnavailable", 1, "at most 1 pod unavailable")
    obj["spec"]["selector"] = {"matchLabels": {"app": k.app}}
    k.fact(obj, "spec.selector.matchLabels.app", k.app, f"for app={k.app}")
    return k.manifest("a PodDisruptionBudget", "pdb")


@kind("PersistentVolumeClaim")
def pvc(k: K) -> Manifest:
    d = k.d
    size = d.choice(("5Gi", "10Gi", "20Gi", "100Gi"))
    cls = d.choice(("gp3", "standard", "fast-ssd", "efs-sc"))
    mode = "ReadWriteMany" if cls == "efs-sc" else "ReadWriteOnce"
    obj = k.obj("v1", "PersistentVolumeClaim", f"{k.app}-data")
    obj["spec"] = {"accessModes": [mode], "storageClassName": cls, "resources": {"requests": {"storage": size}}}
    k.fact(obj, "metadata.name", f"{k.app}-data", f"named {k.app}-data")
    k.fact(obj, "spec.resources.requests.storage", size, f"{size}")
    k.fact(obj, "spec.storageClassName", cls, f"on the {cls} storage class")
    k.fact(obj, "spec.accessModes", {"contains": mode}, mode)
    return k.manifest("a PersistentVolumeClaim", "storage")


@kind("PersistentVolume")
def pv(k: K) -> Manifest:
    d = k.d
    size = d.choice(("50Gi", "100Gi", "500Gi"))
    server = f"fs-{d.hex(8)}.efs.{d.region}.amazonaws.com"
    obj = k.obj("v1", "PersistentVolume", f"{k.app}-nfs", namespaced=False)
    policy = d.choice(("Retain", "Delete"))
    obj["spec"] = {"capacity": {"storage": size}, "accessModes": ["ReadWriteMany"],
                   "persistentVolumeReclaimPolicy": policy, "nfs": {"server": server, "path": "/"}}
    k.fact(obj, "spec.capacity.storage", size, f"{size}")
    k.fact(obj, "spec.nfs.server", server, f"backed by NFS at {server}")
    k.fact(obj, "spec.persistentVolumeReclaimPolicy", policy, f"reclaim policy {policy}")
    return k.manifest("a PersistentVolume", "storage")


@kind("StorageClass")
def storage_class(k: K) -> Manifest:
    d = k.d
    name, kind_ = d.choice((("gp3", "gp3"), ("fast-ssd", "io2"), ("gp3-encrypted", "gp3")))
    obj = k.obj("storage.k8s.io/v1", "StorageClass", name, namespaced=False)
    obj["provisioner"] = "ebs.csi.aws.com"
    obj["parameters"] = {"type": kind_, "encrypted": "true"}
    obj["reclaimPolicy"] = d.choice(("Delete", "Retain"))
    obj["volumeBindingMode"] = "WaitForFirstConsumer"
    obj["allowVolumeExpansion"] = True
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.fact(obj, "provisioner", "ebs.csi.aws.com", "using the EBS CSI driver")
    k.fact(obj, "parameters.type", kind_, f"{kind_} volumes")
    k.fact(obj, "reclaimPolicy", obj["reclaimPolicy"], f"reclaim policy {obj['reclaimPolicy']}")
    k.fact(obj, "allowVolumeExpansion", True, "expansion allowed")
    return k.manifest("a StorageClass", "storage")


@kind("ResourceQuota")
def resource_quota(k: K) -> Manifest:
    d = k.d
    k.ns = k.ns if k.ns != "default" else "apps"
    cpu, mem, pods = d.choice((("10", "20Gi", 50), ("4", "8Gi", 20), ("20", "64Gi", 100)))
    obj = k.obj("v1", "ResourceQuota", "compute-quota")
    obj["spec"] = {"hard": {"requests.cpu": cpu, "requests.memory": mem, "pods": str(pods)}}
    k.fact(obj, "spec.hard[requests.cpu]", cpu, f"{cpu} CPUs of requests")
    k.fact(obj, "spec.hard[requests.memory]", mem, f"{mem} of memory requests")
    k.fact(obj, "spec.hard.pods", pods, f"at most {pods} pods")
    return k.manifest("a ResourceQuota", "namespace")


@kind("LimitRange")
def limit_range(k: K) -> Manifest:
    d = k.d
    k.ns = k.ns if k.ns != "default" else "apps"
    cpu, mem = d.choice((("500m", "512Mi"), ("250m", "256Mi"), ("1", "1Gi")))
    obj = k.obj("v1", "LimitRange", "defaults")
    obj["spec"] = {"limits": [{"type": "Container", "default": {"cpu": cpu, "memory": mem},
                               "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}
    k.fact(obj, "spec.limits.default.cpu", cpu, f"default limits of {cpu} CPU")
    k.fact(obj, "spec.limits.default.memory", mem, f"{mem} memory")
    k.fact(obj, "spec.limits.defaultRequest.cpu", "100m", "default requests of 100m CPU and 128Mi")
    return k.manifest("a LimitRange", "namespace")


@kind("PriorityClass")
def priority_class(k: K) -> Manifest:
    d = k.d
    name, value = d.choice((("critical-apps", 1000000), ("high-priority", 100000), ("batch-low", 1000)))
    obj = k.obj("scheduling.k8s.io/v1", "PriorityClass", name, namespaced=False)
    obj["value"] = value
    obj["globalDefault"] = False
    obj["description"] = f"{name} workloads"
    if d.coin(0.3):
        obj["preemptionPolicy"] = "Never"
        k.fact(obj, "preemptionPolicy", "Never", "never preempting")
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.fact(obj, "value", value, f"value {value}")
    return k.manifest("a PriorityClass", "scheduling")


@kind("RuntimeClass")
def runtime_class(k: K) -> Manifest:
    d = k.d
    name, handler = d.choice((("gvisor", "runsc"), ("kata", "kata-qemu"), ("wasm", "spin")))
    obj = k.obj("node.k8s.io/v1", "RuntimeClass", name, namespaced=False)
    obj["handler"] = handler
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.fact(obj, "handler", handler, f"with the handler {handler}")
    return k.manifest("a RuntimeClass", "scheduling")


@kind("Lease")
def lease(k: K) -> Manifest:
    d = k.d
    obj = k.obj("coordination.k8s.io/v1", "Lease", f"{k.app}-leader")
    seconds = d.choice((15, 30, 60))
    obj["spec"] = {"holderIdentity": f"{k.app}-0", "leaseDurationSeconds": seconds}
    k.fact(obj, "metadata.name", f"{k.app}-leader", f"named {k.app}-leader")
    k.fact(obj, "spec.leaseDurationSeconds", seconds, f"a {seconds}-second lease")
    return k.manifest("a Lease", "coordination")


@kind("EndpointSlice")
def endpoint_slice(k: K) -> Manifest:
    d = k.d
    ips = [d.ip(), d.ip()]
    port = d.choice((5432, 443, 9200))
    obj = k.obj("discovery.k8s.io/v1", "EndpointSlice", f"{k.app}-external",
                labels={"kubernetes.io/service-name": k.app})
    obj["addressType"] = "IPv4"
    obj["ports"] = [{"name": "tcp", "protocol": "TCP", "port": port}]
    obj["endpoints"] = [{"addresses": [ip]} for ip in ips]
    k.fact(obj, "metadata.labels[kubernetes.io/service-name]", k.app, f"for the Service {k.app}")
    k.fact(obj, "endpoints.addresses", {"contains": ips[0]}, f"endpoints {words.join(ips)}")
    k.fact(obj, "ports.port", port, f"port {port}")
    return k.manifest("an EndpointSlice", "service")


@kind("Endpoints")
def endpoints(k: K) -> Manifest:
    d = k.d
    ip, port = d.ip(), d.choice((5432, 3306))
    obj = k.obj("v1", "Endpoints", k.app)
    obj["subsets"] = [{"addresses": [{"ip": ip}], "ports": [{"port": port}]}]
    k.fact(obj, "subsets.addresses.ip", ip, f"pointing at {ip}")
    k.fact(obj, "subsets.ports.port", port, f"port {port}")
    return k.manifest(f"an Endpoints object {k.app}", "service")


@kind("CSIDriver")
def csi_driver(k: K) -> Manifest:
    d = k.d
    name = d.choice(("efs.csi.aws.com", "ebs.csi.aws.com", "secrets-store.csi.k8s.io"))
    obj = k.obj("storage.k8s.io/v1", "CSIDriver", name, namespaced=False)
    attach = name == "ebs.csi.aws.com"
    obj["spec"] = {"attachRequired": attach, "podInfoOnMount": not attach}
    k.fact(obj, "metadata.name", name, f"named {name}")
    k.fact(obj, "spec.attachRequired", attach, "attach required" if attach else "no attach step")
    return k.manifest("a CSIDriver", "storage")


@kind("VolumeAttachment")
def volume_attachment(k: K) -> Manifest:
    d = k.d
    node = f"ip-10-0-{d.between(1, 200)}-{d.between(1, 250)}.{d.region}.compute.internal"
    obj = k.obj("storage.k8s.io/v1", "VolumeAttachment", f"{k.app}-attach", namespaced=False)
    obj["spec"] = {"attacher": "ebs.csi.aws.com", "nodeName": node,
                   "source": {"persistentVolumeName": f"{k.app}-pv"}}
    k.fact(obj, "spec.nodeName", node, f"attaching {k.app}-pv to node {node}")
    k.fact(obj, "spec.source.persistentVolumeName", f"{k.app}-pv")
    return k.manifest("a VolumeAttachment", "storage")


@kind("CustomResourceDefinition")
def crd(k: K) -> Manifest:
    d = k.d
    group = f"{d.project}.{d.domain}"
    singular = d.choice(("backup", "tenant", "rollout", "widget", "database"))
    plural = singular + "s"
    obj = k.obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.{group}", namespaced=False)
    obj["spec"] = {"group": group, "scope": "Namespaced",
                   "names": {"plural": plural, "singular": singular, "kind": singular.capitalize()},
                   "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                       "type": "object", "properties": {"spec": {"type": "object", "properties": {
                           "size": {"type": "integer"}}}}}}}]}
    k.fact(obj, "spec.group", group, f"group {group}")
    k.fact(obj, "spec.names.kind", singular.capitalize(), f"kind {singular.capitalize()}")
    k.fact(obj, "spec.versions.name", "v1", "version v1")
    return k.manifest("a CustomResourceDefinition", "crd")


def _webhook_client(k: K) -> dict:
    return {"service": {"namespace": "webhooks", "name": f"{k.app}-webhook", "path": "/validate"}}


@kind("ValidatingWebhookConfiguration")
def validating_webhook(k: K) -> Manifest:
    d = k.d
    obj = k.obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", f"{k.app}-validate",
                namespaced=False)
    policy = d.choice(("Fail", "Ignore"))
    obj["webhooks"] = [{"name": f"validate.{k.app}.{d.domain}", "clientConfig": _webhook_client(k),
                        "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                                   "resources": ["deployments"]}],
                        "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": policy}]
    k.fact(obj, "webhooks.rules.resources", {"contains": "deployments"}, "checking Deployment creates and updates")
    k.fact(obj, "webhooks.failurePolicy", policy, f"failure policy {policy}")
    k.fact(obj, "webhooks.clientConfig.service.name", f"{k.app}-webhook", f"calling the service {k.app}-webhook")
    return k.manifest("a ValidatingWebhookConfiguration", "admission")


@kind("MutatingWebhookConfiguration")
def mutating_webhook(k: K) -> Manifest:
    d = k.d
    obj = k.obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", f"{k.app}-inject",
                namespaced=False)
    obj["webhooks"] = [{"name": f"inject.{k.app}.{d.domain}", "clientConfig": _webhook_client(k),
                        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                   "resources": ["pods"]}],
                        "admissionReviewVersions": ["v1"], "sideEffects": "None",
                        "namespaceSelector": {"matchLabels": {"injection": "enabled"}}}]
    k.fact(obj, "webhooks.rules.resources", {"contains": "pods"}, "mutating pod creation")
    k.fact(obj, "webhooks.namespaceSelector.matchLabels.injection", "enabled", "only in namespaces labelled "
                                                                                "injection=enabled")
    return k.manifest("a MutatingWebhookConfiguration", "admission")


@kind("ValidatingAdmissionPolicy")
def admission_policy(k: K) -> Manifest:
    d = k.d
    limit = d.choice((5, 10, 20))
    name = f"max-replicas-{limit}"
    policy = k.obj("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", name, namespaced=False)
    policy["spec"] = {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [{
        "apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
        "resources": ["deployments"]}]},
        "validations": [{"expression": f"object.spec.replicas <= {limit}",
                         "message": f"at most {limit} replicas"}]}
    binding = k.obj("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", f"{name}-binding",
                    namespaced=False)
    binding["spec"] = {"policyName": name, "validationActions": ["Deny"]}
    k.fact(policy, "spec.validations.expression", {"contains": f"<= {limit}"},
           f"rejecting Deployments over {limit} replicas")
    k.fact(policy, "metadata.name", name, f"named {name}")
    k.fact(binding, "spec.policyName", name, "bound with Deny")
    k.facts.insert(0, k.facts.pop(-2))
    return k.manifest("a ValidatingAdmissionPolicy and its binding", "admission")


KINDS["ValidatingAdmissionPolicyBinding"] = KINDS["ValidatingAdmissionPolicy"]


@kind("APIService")
def api_service(k: K) -> Manifest:
    obj = k.obj("apiregistration.k8s.io/v1", "APIService", "v1beta1.metrics.k8s.io", namespaced=False)
    obj["spec"] = {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                   "versionPriority": 100, "insecureSkipTLSVerify": True,
                   "service": {"name": "metrics-server", "namespace": "kube-system"}}
    k.fact(obj, "spec.group", "metrics.k8s.io", "for metrics.k8s.io v1beta1")
    k.fact(obj, "spec.service.name", "metrics-server", "served by metrics-server in kube-system")
    return k.manifest("an APIService", "apiservice")


@kind("PriorityLevelConfiguration")
def priority_level(k: K) -> Manifest:
    d = k.d
    shares = d.choice((10, 20, 50))
    obj = k.obj("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration", f"{k.app}-limited",
                namespaced=False)
    obj["spec"] = {"type": "Limited", "limited": {"nominalConcurrencyShares": shares,
                                                  "limitResponse": {"type": "Reject"}}}
    k.fact(obj, "spec.limited.nominalConcurrencyShares", shares, f"{shares} concurrency shares")
    k.fact(obj, "spec.limited.limitResponse.type", "Reject", "rejecting excess requests")
    return k.manifest(f"a PriorityLevelConfiguration {k.app}-limited", "flowcontrol")


@kind("FlowSchema")
def flow_schema(k: K) -> Manifest:
    d = k.d
    precedence = d.choice((500, 1000, 2000))
    obj = k.obj("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", f"{k.app}-controllers", namespaced=False)
    obj["spec"] = {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": precedence,
                   "distinguisherMethod": {"type": "ByUser"},
                   "rules": [{"subjects": [{"kind": "ServiceAccount", "serviceAccount": {
                       "name": f"{k.app}-controller", "namespace": "apps"}}],
                              "resourceRules": [{"verbs": ["list", "watch"], "apiGroups": ["*"],
                                                 "resources": ["*"], "namespaces": ["*"]}]}]}
    k.fact(obj, "spec.matchingPrecedence", precedence, f"precedence {precedence}")
    k.fact(obj, "spec.priorityLevelConfiguration.name", "workload-low", "using the workload-low level")
    return k.manifest(f"a FlowSchema for the {k.app}-controller service account", "flowcontrol")


@kind("CertificateSigningRequest")
def csr(k: K) -> Manifest:
    name = f"{k.app}-client"
    obj = k.obj("certificates.k8s.io/v1", "CertificateSigningRequest", name, namespaced=False)
    obj["spec"] = {"request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K",
                   "signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 86400,
                   "usages": ["client auth"]}
    k.fact(obj, "spec.signerName", "kubernetes.io/kube-apiserver-client", "for the kube-apiserver-client signer")
    k.fact(obj, "spec.expirationSeconds", 86400, "valid for one day (86400 seconds)")
    return k.manifest(f"a CertificateSigningRequest {name}", "certificates")


@kind("ServiceCIDR")
def service_cidr(k: K) -> Manifest:
    cidr = f"10.{k.d.between(96, 200)}.0.0/16"
    obj = k.obj("networking.k8s.io/v1", "ServiceCIDR", "extra-services", namespaced=False)
    obj["spec"] = {"cidrs": [cidr]}
    k.fact(obj, "spec.cidrs", {"contains": cidr}, f"adding {cidr} for Service IPs")
    return k.manifest("a ServiceCIDR", "service")


# ---------------------------------------------------------------------------------------------------------
# Multi-object apps
# ---------------------------------------------------------------------------------------------------------


@kind("App")
def app_stack(k: K) -> Manifest:
    """A Deployment with its Service, and an HPA, PDB or Ingress: wired by labels and names."""
    d = k.d
    workload(k, "Deployment")
    svc = k.obj("v1", "Service", k.app)
    port = next(f.matcher for f in k.facts if f.path.endswith("containerPort"))
    svc["spec"] = {"selector": {"app": k.app}, "ports": [{"port": 80, "targetPort": port}]}
    k.fact(svc, "spec.ports.port", 80, "a Service on port 80")
    k.links.append({"kind": "Service", "selects": "Deployment"})
    extra = d.choice(("hpa", "pdb", "none"))
    if extra == "hpa":
        high = d.between(5, 12)
        h = k.obj("autoscaling/v2", "HorizontalPodAutoscaler", k.app)
        h["spec"] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": k.app},
                     "minReplicas": 2, "maxReplicas": high, "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}
        k.fact(h, "spec.maxReplicas", high, f"autoscaling up to {high} replicas")
        k.links.append({"kind": "HorizontalPodAutoscaler", "targets": "Deployment"})
    elif extra == "pdb":
        p = k.obj("policy/v1", "PodDisruptionBudget", k.app)
        p["spec"] = {"minAvailable": 1, "selector": {"matchLabels": {"app": k.app}}}
        k.fact(p, "spec.minAvailable", 1, "a PDB keeping 1 pod available")
        k.links.append({"kind": "PodDisruptionBudget", "selects": "Deployment"})
    next(f for f in k.facts if f.path == "metadata.name").say = ""
    return k.manifest(f"a Deployment {k.app} with a Service in front of it", "deployment")


# The kinds of the seed dataset, then the other stable kinds (each must be in the pinned schema).
SEED_KINDS = ("Deployment", "Service", "Ingress", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
              "StatefulSet", "DaemonSet", "Job", "CronJob", "ConfigMap", "Secret", "PersistentVolumeClaim",
              "ResourceQuota", "Role", "Namespace", "ServiceAccount", "RoleBinding", "ClusterRole", "StorageClass",
              "LimitRange", "ClusterRoleBinding", "PersistentVolume", "Pod", "IngressClass")


def _dump(objects: list[dict]) -> str:
    return "---\n".join(yaml.safe_dump(o, sort_keys=False, default_flow_style=False, width=120) for o in objects)


def _intent(m: Manifest) -> dict:
    clauses: dict[tuple, dict] = {}
    for fact in m.facts:
        clause = clauses.setdefault((fact.kind, fact.name), {"kind": fact.kind, "name": fact.name})
        clause.setdefault("where", {})[fact.path] = fact.matcher
    for obj in m.objects:
        key = (obj["kind"], obj["metadata"]["name"])
        clauses.setdefault(key, {"kind": obj["kind"], "name": obj["metadata"]["name"]})
    for link in m.links:
        for clause in clauses.values():
            if clause["kind"] == link["kind"]:
                clause.update({k: v for k, v in link.items() if k != "kind"})
                break
    # An object's name is checked only where the request states it (a stated metadata.name fact).
    for clause in clauses.values():
        where = clause.get("where", {})
        if where.pop("metadata.name", None) is None:
            clause.pop("name", None)
        if not where:
            clause.pop("where", None)
    return {"require": list(clauses.values())}


def manifest_row(kind_name: str, rng: random.Random, row_id: str) -> Row:
    """One Kubernetes row of `kind_name` (a key of KINDS)."""
    draw = Draw(rng)
    k = K(draw)
    m = KINDS[kind_name](k)
    what = m.what
    instruction = words.frame(draw, words.KUBERNETES_FRAMES, what)
    output = f"```yaml\n{_dump(m.objects)}```"
    tags = list(dict.fromkeys([*m.tags, *[o["kind"].lower() for o in m.objects]]))
    return Row(instruction=instruction, input="", output=output, kind="kubernetes", intent=_intent(m), tags=tags,
               id=row_id)
