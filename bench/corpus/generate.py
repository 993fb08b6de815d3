#!/usr/bin/env python3
"""Generate a labelled secret-detection corpus: a tree of realistic project files with planted
synthetic secrets (positives) and look-alike non-secrets (hard negatives).

usage: bench/corpus/generate.py OUT_DIR [--seed N] [--scale K]

Writes OUT_DIR/tree/ (the files to scan) and OUT_DIR/labels.json (outside the tree). The same
seed and scale always give byte-identical output. Every planted value is drawn from the seeded
RNG in the exact format of the real credential (prefix, length, alphabet, checksum); nothing in
the tree is a live secret.

Each label: file (relative to tree/), line_start, line_end (1-based, inclusive), value (the
plaintext secret, decoded where the file holds it encoded), class, kind ("positive",
"negative", or "public": a key that is public by design), format (short name); labels of encoded values also carry encoded, the value's
text as written in the file (e.g. the base64 under a Kubernetes Secret's data:).
"""
import argparse
import base64
import json
import math
import random
import shutil
import string
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import filler as F  # noqa: E402
import tokens as T  # noqa: E402

POS, NEG, PUBLIC = "positive", "negative", "public"
CLASSES = ["encoded", "context", "connstr", "distinctive", "prefixed"]


class Mark:
    """A planted value, located in its file by `needle` (default: the value itself). With `end`,
    the label spans from the needle to the end of the first `end` after it."""

    def __init__(self, kind, cls, fmt, value, needle=None, end=None, encoded=None):
        self.kind, self.cls, self.fmt, self.value = kind, cls, fmt, value
        self.needle, self.end, self.encoded = needle if needle is not None else value, end, encoded


def P(cls, fmt, value, needle=None, end=None, encoded=None):
    return Mark(POS, cls, fmt, value, needle, end, encoded)


def N(cls, fmt, value, needle=None, end=None, encoded=None):
    return Mark(NEG, cls, fmt, value, needle, end, encoded)


def PUB(cls, fmt, value, needle=None, end=None, encoded=None):
    """A key that is public by design (browser SDK keys, DSNs): reporting it at low severity
    is neither a hit nor a false alarm, so the scorer leaves it out of both."""
    return Mark(PUBLIC, cls, fmt, value, needle, end, encoded)


class Item:
    """One NAME = value assignment that a generic key/value renderer writes in its own syntax."""

    def __init__(self, name, value, marks, syntaxes=None, raw=False):
        self.name, self.value, self.marks, self.syntaxes, self.raw = name, value, marks, syntaxes, raw


GENERIC = ["dotenv", "shell", "yaml", "toml", "ini", "python", "typescript", "javascript", "go",
           "ruby", "json", "properties", "java", "csharp", "php", "gha"]

PATHS = {
    "dotenv": [".env", ".env.production", "deploy/⟨env⟩.env", "config/⟨env⟩.env", "docker/⟨svc⟩.env"],
    "shell": ["scripts/⟨verb⟩-⟨noun⟩s.sh", "deploy/env-⟨env⟩.sh", "bin/run-⟨svc⟩.sh", "ops/bootstrap.sh"],
    "yaml": ["config/⟨env⟩.yaml", "config/settings.yml", "deploy/values-⟨env⟩.yaml", "config/⟨noun⟩-client.yml"],
    "toml": ["config/⟨env⟩.toml", "settings.toml", "config/⟨svc⟩.toml"],
    "ini": ["config/app.ini", "settings.ini", "⟨pkg⟩.cfg", "conf/⟨svc⟩.ini"],
    "python": ["⟨pkg⟩/settings.py", "⟨pkg⟩/config.py", "scripts/⟨verb⟩_⟨noun⟩s.py", "⟨pkg⟩/clients/⟨noun⟩_client.py"],
    "typescript": ["src/config.ts", "src/lib/⟨noun⟩Client.ts", "src/config/⟨env⟩.ts"],
    "javascript": ["config/⟨env⟩.js", "src/config.js", "lib/⟨noun⟩-client.js"],
    "go": ["internal/config/config.go", "cmd/⟨svc⟩/main.go", "pkg/⟨noun⟩/client.go"],
    "ruby": ["config/initializers/⟨noun⟩.rb", "lib/⟨noun⟩_client.rb", "config/environments/⟨env⟩.rb"],
    "json": ["config/⟨env⟩.json", "config/default.json", "⟨noun⟩-client.config.json"],
    "properties": ["src/main/resources/application-⟨env⟩.properties", "src/main/resources/⟨noun⟩.properties",
                   "config/application.properties"],
    "java": ["src/main/java/com/⟨org⟩/⟨pkgj⟩/⟨Noun⟩Client.java", "src/main/java/com/⟨org⟩/⟨pkgj⟩/config/⟨Noun⟩Config.java"],
    "csharp": ["src/⟨Pascal⟩/Services/⟨Noun⟩Client.cs", "src/⟨Pascal⟩/Options/⟨Noun⟩Options.cs"],
    "php": ["wp-config.php", "config/⟨noun⟩.php", "app/Services/⟨Noun⟩Client.php"],
    "gha": [".github/workflows/⟨verb⟩.yml", ".github/workflows/deploy-⟨env⟩.yml"],
}


def yq(v):
    return json.dumps(v)


class Corpus:
    def __init__(self, seed=1, scale=1):
        self.r = random.Random(seed)
        self.scale = scale
        self.files = {}
        self.labels = []
        self.values = set()
        self.clock = 0
        reps = max(1, math.ceil(scale))
        self.projects = [p if i == 0 else f"{p}-{i + 1}" for i in range(reps) for p in F.PROJECTS]
        self.pending = []  # generic Items waiting for a file
        self.utf16 = set()  # files written as UTF-16LE with a byte-order mark

    # ------------------------------------------------------------------ basics
    def n(self, base):
        return max(1, round(base * self.scale))

    def new(self, fn, *args):
        """A fresh value from a token generator, never repeated within the corpus."""
        for _ in range(100):
            v = fn(self.r, *args)
            if v not in self.values:
                self.values.add(v)
                return v
        raise RuntimeError("could not draw a unique value")

    def place(self, templates, negative=False, project=None):
        r = self.r
        for attempt in range(200):
            proj = project or r.choice(self.projects)
            w = F.words(r)
            env = r.choice(["production", "prod", "staging", "live"] + (["development", "local", "sample"] if negative else []))
            svc = r.choice(F.NOUNS) + r.choice(["-api", "-worker", "-service", "-sync", ""])
            base = proj.split("-")[0]
            kw = dict(w, env=env, svc=svc, pkg=proj.replace("-", "_"), org=r.choice(["northwind", "contoso", "fabrikam", "litware"]),
                      pkgj=base, Pascal=F.pascal(proj.replace("-", "_")), ns=r.choice(["prod", "production", base, "apps"]))
            rel = F.fill(r.choice(templates), **kw)
            path = f"{proj}/{rel}"
            if attempt > 150:
                path = f"{proj}/{svc}/{rel}"
            if path not in self.files:
                return path
        raise RuntimeError(f"no free path for {templates}")

    def emit(self, path, content, marks, syntax=None):
        if not content.endswith("\n"):
            content += "\n"
        assert path not in self.files, path
        for m in marks:
            count = content.count(m.needle)
            if count != 1:
                raise AssertionError(f"{path}: needle occurs {count} times: {m.needle[:60]!r}")
            pos = content.index(m.needle)
            end = pos + len(m.needle)
            if m.end is not None:
                end = content.index(m.end, pos) + len(m.end)
            fmt = m.fmt.replace("{syntax}", syntax or "file")
            label = {"file": path,
                     "line_start": content.count("\n", 0, pos) + 1,
                     "line_end": content.count("\n", 0, end - 1) + 1,
                     "value": m.value, "class": m.cls, "kind": m.kind, "format": fmt}
            if m.encoded is not None:
                assert m.encoded in content, (path, m.encoded[:40])
                label["encoded"] = m.encoded
            self.labels.append(label)
        self.files[path] = content

    def ts(self):
        self.clock += self.r.randint(60_000, 5_000_000)
        return F.ts(self.clock)

    # ------------------------------------------------------------------ generic key/value files
    def key(self, syntax, name, style=None):
        if syntax in ("dotenv", "shell", "gha", "php", "python", "java"):
            return name
        if syntax in ("typescript", "javascript", "json"):
            return F.camel(name)
        if syntax in ("go", "csharp"):
            return F.pascal(name)
        if syntax == "properties":
            return F.dotted(name)
        return F.lower(name)

    def render(self, syntax, items, title=None):
        """Write items (and non-secret settings around them) in one generic syntax."""
        r = self.r
        entries = [(n, v, None) for n, v in F.settings(r, r.randint(3, 8))]
        entries = [e for e in entries if e[0] not in {i.name for i in items}]
        for it in items:
            entries.insert(r.randint(0, len(entries)), (it.name, it.value, it))
        k = lambda n: self.key(syntax, n)  # noqa: E731

        def q(v, it, single=False):
            if it is not None and it.raw:
                return v
            return f"'{v}'" if single else yq(v)

        out = []
        if syntax == "dotenv":
            out.append(f"# {r.choice(['Runtime configuration', 'Service environment', 'Generated by ops/render-env, edit with care'])}")
            for n, v, it in entries:
                need = any(c in v for c in " #$'\"") or (it is not None and r.random() < 0.4)
                out.append(f"{n}={yq(v) if need and not (it and it.raw) else v}")
        elif syntax == "shell":
            out += ["#!/usr/bin/env bash", "set -euo pipefail", ""]
            for n, v, it in entries:
                out.append(f"export {n}={v if it is not None and it.raw else repr_sh(v)}")
            out += ["", r.choice(["exec gunicorn app.wsgi:application --workers \"${MAX_WORKERS:-4}\" --bind 0.0.0.0:8000",
                                  "docker compose -f docker-compose.prod.yml up -d --remove-orphans",
                                  "python -m app.worker --queue \"${QUEUE_NAME:-default}\"",
                                  "./bin/migrate && ./bin/server"])]
        elif syntax == "yaml":
            top = r.choice(["app", "service", "settings", "config"])
            out += [f"{top}:", f"  name: {r.choice(F.PROJECTS)}"]
            for n, v, it in entries:
                out.append(f"  {k(n)}: {q(v, it)}")
            out += ["", "logging:", "  format: json", "  level: info"]
        elif syntax == "toml":
            out += ["[server]", f'host = "0.0.0.0"', f"port = {r.choice([8000, 8080, 9000])}", "", f"[{r.choice(['app', 'service', 'settings'])}]"]
            for n, v, it in entries:
                out.append(f"{k(n)} = {q(v, it)}")
        elif syntax == "ini":
            out += ["[DEFAULT]", "debug = false", "", f"[{r.choice(['app', 'main', 'service', 'settings'])}]"]
            for n, v, it in entries:
                out.append(f"{k(n)} = {v}")
        elif syntax == "python":
            head, body = F.py_code(r)
            out.append(head)
            for n, v, it in entries:
                out.append(f"{n} = {q(v, it)}")
            out += ["", "", body]
        elif syntax in ("typescript", "javascript"):
            if syntax == "javascript":
                head, body = F.js_code(r)
                out += [head, "module.exports.config = {"]
            else:
                out += ["import { z } from 'zod';", "", "export const config = {"]
                body = F.ts_code(r)
            for n, v, it in entries:
                out.append(f"  {k(n)}: {q(v, it, single=True)},")
            out += ["};", "", body]
        elif syntax == "go":
            pkg = r.choice(["config", "main", "client"])
            out += [f"package {pkg}", "", "import (", '\t"context"', '\t"encoding/json"', '\t"errors"',
                    '\t"net/http"', '\t"time"', ")", "", "const ("]
            for n, v, it in entries:
                out.append(f"\t{k(n)} = {q(v, it)}")
            out += [")", "", F.go_code(r)]
        elif syntax == "ruby":
            mod = F.pascal(r.choice(F.NOUNS)) + "Client"
            out += ["# frozen_string_literal: true", "", f"module {mod}"]
            for n, v, it in entries:
                out.append(f"  {n} = {q(v, it)}")
            out += ["end", "", F.ruby_code(r)]
        elif syntax == "json":
            obj = {}
            for n, v, it in entries:
                obj[k(n)] = v
            out.append(json.dumps({"service": r.choice(F.PROJECTS), "settings": obj}, indent=2))
        elif syntax == "properties":
            out += ["# Application settings", f"spring.application.name={r.choice(F.PROJECTS)}", "server.port=8080"]
            for n, v, it in entries:
                out.append(f"{k(n)}={v}")
            out += ["management.endpoints.web.exposure.include=health,info,prometheus"]
        elif syntax == "java":
            cls = F.pascal(r.choice(F.NOUNS)) + "Client"
            out += [f"package com.{r.choice(['northwind', 'contoso', 'fabrikam'])}.integration;", "",
                    "import java.sql.ResultSet;", "import java.sql.SQLException;", "import java.util.List;",
                    "import java.util.Optional;", "", f"public class {cls} {{", ""]
            for n, v, it in entries:
                out.append(f"    private static final String {n} = {q(v, it)};")
            out += ["", F.java_methods(r), "}"]
        elif syntax == "csharp":
            cls = F.pascal(r.choice(F.NOUNS)) + "Client"
            out += ["using System.Net;", "using System.Net.Http.Json;", "", f"namespace {F.pascal(r.choice(F.PROJECTS).replace('-', '_'))}.Services",
                    "{", f"    public class {cls}", "    {"]
            for n, v, it in entries:
                out.append(f"        private const string {k(n)} = {q(v, it)};")
            out += ["", F.csharp_code(r), "    }", "}"]
        elif syntax == "php":
            out += ["<?php", "", "// ** Settings ** //"]
            for n, v, it in entries:
                out.append(f"define( '{n}', {q(v, it, single=True)} );")
            out += ["", "$table_prefix = 'wp_';", "", "if ( ! defined( 'ABSPATH' ) ) {",
                    "\tdefine( 'ABSPATH', __DIR__ . '/' );", "}", "", "require_once ABSPATH . 'wp-settings.php';"]
        elif syntax == "gha":
            job = r.choice(["deploy", "release", "build", "sync"])
            out += [f"name: {job}", "", "on:", "  push:", "    branches: [main]", "  workflow_dispatch:", "",
                    "jobs:", f"  {job}:", "    runs-on: ubuntu-latest", "    env:"]
            for n, v, it in entries:
                out.append(f"      {n}: {v if (it and it.raw) or r.random() < 0.5 else yq(v)}")
            out += ["    steps:", "      - uses: actions/checkout@v4", "      - uses: actions/setup-node@v4",
                    "        with:", "          node-version: 20", "      - run: npm ci", f"      - run: npm run {job}"]
        else:
            raise ValueError(syntax)
        return "\n".join(out) + "\n"

    def kv_file(self, syntax, items):
        marks = [m for it in items for m in it.marks]
        negative = all(m.kind != POS for m in marks)
        path = self.place(PATHS[syntax], negative=negative)
        self.emit(path, self.render(syntax, items), marks, syntax=syntax)

    def queue(self, item):
        self.pending.append(item)

    def flush(self, syntax_for_context=None):
        """Put queued items into generic files, 1-3 items per file, syntaxes chosen per item."""
        r = self.r
        items = self.pending
        self.pending = []
        r.shuffle(items)
        while items:
            first = items.pop()
            allowed = first.syntaxes or GENERIC
            syntax = r.choice(allowed)
            group = [first]
            for other in list(items):
                if len(group) >= r.choice([1, 1, 2, 3]):
                    break
                if syntax in (other.syntaxes or GENERIC) and compatible(group, other):
                    group.append(other)
                    items.remove(other)
            self.kv_file(syntax, group)


def log_insert(r, lines, text, lo=0):
    """Insert a log line after a random existing one, reusing that line's timestamp."""
    at = r.randint(max(lo, 1), len(lines))
    lines.insert(at, f"{lines[at - 1].split(' ', 1)[0]} {text}")


def compatible(group, other):
    """Items may share a file only if no item's needle also occurs in another item's value."""
    for g in group:
        if any(m.needle in other.value for m in g.marks) or any(m.needle in g.value for m in other.marks):
            return False
    return other.name not in {g.name for g in group}


def repr_sh(v):
    return "'" + v.replace("'", "'\"'\"'") + "'"


# ====================================================================== class: encoded

def k8s_secret(c):
    r = c.r
    options = ["gh", "hf", "ops", "aws", "db", "db"]
    picks = r.sample(options, r.randint(2, 3))
    data, marks = [], []
    for p in picks:
        if p == "gh":
            v = c.new(T.github, "ghp_")
            data.append((r.choice(["GITHUB_TOKEN", "GH_TOKEN", "GIT_ACCESS_TOKEN"]), v))
        elif p == "hf":
            v = c.new(T.huggingface)
            data.append((r.choice(["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]), v))
        elif p == "ops":
            v = c.new(T.onepassword_sa)
            data.append(("OP_SERVICE_ACCOUNT_TOKEN", v))
        elif p == "aws":
            data.append(("AWS_ACCESS_KEY_ID", c.new(T.aws_access_key_id)))
            data.append(("AWS_SECRET_ACCESS_KEY", c.new(T.aws_secret_access_key)))
        else:
            data.append((r.choice(["DB_PASSWORD", "DATABASE_PASSWORD", "POSTGRES_PASSWORD"]), c.new(T.password)))
    for n, v in data:
        marks.append(P("encoded", "k8s-secret-base64", v, needle=T.b64(v.encode()), encoded=T.b64(v.encode())))
    w = F.words(r)
    extra = [("DB_HOST", f"{w['db']}-db.{r.choice(['prod', 'internal'])}.svc.cluster.local"),
             ("DB_USER", r.choice(F.USERS)), ("LOG_LEVEL", "info")]
    data += r.sample(extra, r.randint(1, 2))
    r.shuffle(data)
    svc = r.choice(F.NOUNS) + r.choice(["-api", "-worker", "-sync"])
    ns = r.choice(["prod", "production", "apps", "payments"])
    doc = secret_yaml(svc + "-secrets", ns, "Opaque", [(n, T.b64(v.encode())) for n, v in data], svc)
    if r.random() < 0.5:
        doc = deployment_yaml(r, svc, ns, secret_ref=svc + "-secrets") + "---\n" + doc
    c.emit(c.place(["deploy/k8s/⟨svc⟩-secret.yaml", "k8s/overlays/⟨env⟩/secrets.yaml", "manifests/⟨svc⟩.yaml",
                    "helm/rendered/⟨svc⟩-secret.yaml"]), doc, marks)


def secret_yaml(name, ns, typ, data, app):
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}", f"  namespace: {ns}", "  labels:",
             f"    app.kubernetes.io/name: {app}", "    app.kubernetes.io/managed-by: kustomize", f"type: {typ}", "data:"]
    lines += [f"  {k}: {v}" for k, v in data]
    return "\n".join(lines) + "\n"


def deployment_yaml(r, svc, ns, secret_ref=None, env_block=None):
    img = f"ghcr.io/{r.choice(['northwind', 'contoso', 'fabrikam'])}/{svc}:{r.randint(1, 4)}.{r.randint(0, 30)}.{r.randint(0, 9)}"
    lines = ["apiVersion: apps/v1", "kind: Deployment", "metadata:", f"  name: {svc}", f"  namespace: {ns}", "spec:",
             f"  replicas: {r.choice([2, 3])}", "  selector:", "    matchLabels:", f"      app: {svc}", "  template:",
             "    metadata:", "      labels:", f"        app: {svc}", "    spec:", "      containers:", f"      - name: {svc}",
             f"        image: {img}", "        ports:", "        - containerPort: 8080"]
    if secret_ref:
        lines += ["        envFrom:", "        - secretRef:", f"            name: {secret_ref}"]
    if env_block:
        lines += ["        env:"] + env_block
    lines += ["        resources:", "          requests:", "            cpu: 100m", "            memory: 256Mi",
              "          limits:", "            memory: 512Mi", "        readinessProbe:", "          httpGet:",
              "            path: /healthz", "            port: 8080"]
    return "\n".join(lines) + "\n"


def k8s_secret_placeholder(c):
    r = c.r
    ph = r.sample(["changeme", "REPLACE_ME", "${DB_PASSWORD}", "<set-by-vault>", "password", "TODO"], r.randint(1, 2))
    data = [(n, T.b64(v.encode())) for n, v in zip(["DB_PASSWORD", "API_TOKEN"], ph)]
    marks = [N("encoded", "k8s-secret-base64-placeholder", v, needle=T.b64(v.encode()), encoded=T.b64(v.encode())) for v in ph]
    data.append(("DB_USER", T.b64(r.choice(F.USERS).encode())))
    svc = r.choice(F.NOUNS) + "-api"
    c.emit(c.place(["deploy/k8s/base/⟨svc⟩-secret.yaml", "k8s/base/secrets.yaml", "charts/⟨svc⟩/examples/secret.yaml"], negative=True),
           secret_yaml(svc + "-env", "default", "Opaque", data, svc), marks)


def dockerconfigjson(c):
    r = c.r
    reg, user, pw = registry_cred(c)
    auth = T.b64(f"{user}:{pw}".encode())
    entry = {"username": user, "password": pw, "auth": auth} if r.random() < 0.5 else {"auth": auth}
    blob = T.b64(json.dumps({"auths": {reg: entry}}, separators=(",", ":")).encode())
    svc = r.choice(F.NOUNS) + "-api"
    doc = secret_yaml(r.choice(["regcred", "registry-pull-secret", f"{svc}-pull"]), r.choice(["prod", "apps", "ci"]),
                      "kubernetes.io/dockerconfigjson", [(".dockerconfigjson", blob)], svc)
    c.emit(c.place(["deploy/k8s/pull-secret.yaml", "k8s/⟨env⟩/regcred.yaml", "manifests/registry-secret.yaml"]), doc,
           [P("encoded", "k8s-dockerconfigjson", pw, needle=blob, encoded=blob)])


def registry_cred(c):
    r = c.r
    kind = r.choice(["ghcr", "gitlab", "dockerhub", "acr", "harbor"])
    if kind == "ghcr":
        return "ghcr.io", r.choice(F.FIRST) + "-ci", c.new(T.github, "ghp_")
    if kind == "gitlab":
        return "registry.gitlab.com", "gitlab-ci-token", c.new(T.glpat_routable)
    if kind == "dockerhub":
        return "https://index.docker.io/v1/", r.choice(F.FIRST) + "dev", c.new(T.dockerhub_pat)
    if kind == "acr":
        name = r.choice(["northwindprod", "contosoacr", "fabrikamimages"])
        return f"{name}.azurecr.io", name, c.new(lambda rr: T.rs(rr, T.ALNUM + "+/", 52))
    return f"harbor.{r.choice(F.DOMAINS)}", "robot$ci-pull", c.new(T.password, "-_.")


def docker_config_json(c):
    r = c.r
    reg, user, pw = registry_cred(c)
    auth = T.b64(f"{user}:{pw}".encode())
    cfg = {"auths": {reg: {"auth": auth}}, "HttpHeaders": {"User-Agent": "Docker-Client/24.0.7 (linux)"}}
    if r.random() < 0.5:
        cfg["credHelpers"] = {"public.ecr.aws": "ecr-login"}
    c.emit(c.place(["ci/docker/config.json", ".docker/config.json", "build/docker-auth/config.json"]),
           json.dumps(cfg, indent="\t"), [P("encoded", "docker-config-auth", pw, needle=auth, encoded=auth)])


def notebook(c):
    r = c.r
    marks, cells = [], []
    w = F.words(r)
    cells.append(md_cell([f"# {w['Verb'] if 'Verb' in w else w['verb'].title()} {w['noun']} forecasts\n", "\n",
                          f"Exploration of {w['noun']} volumes per region, {r.choice(['Q1', 'Q2', 'Q3', 'Q4'])} {r.choice([2024, 2025])}."]))
    cells.append(code_cell(["import os\n", "import pandas as pd\n", "import numpy as np\n", "import matplotlib.pyplot as plt\n"], r))
    for _ in range(r.choice([1, 1, 2])):
        kind = r.choice(["openai", "anthropic", "hf", "db", "api"])
        if kind == "openai":
            v = c.new(r.choice([T.openai_project, T.openai_legacy]))
            src = ["from openai import OpenAI\n", "\n", f'api_key = "{v}"\n', "client = OpenAI(api_key=api_key)\n"]
        elif kind == "anthropic":
            v = c.new(T.anthropic)
            src = ["import anthropic\n", "\n", f'client = anthropic.Anthropic(api_key="{v}")\n',
                   'msg = client.messages.create(model="claude-3-5-sonnet-latest", max_tokens=512, messages=[{"role": "user", "content": prompt}])\n']
        elif kind == "hf":
            v = c.new(T.huggingface)
            src = ["from huggingface_hub import login\n", "\n", f'login(token="{v}")\n']
        elif kind == "db":
            v = c.new(T.password, "!*+-.=?@_~^")
            src = ["import psycopg2\n", "\n", f'conn = psycopg2.connect(host="{w["db"]}-replica.internal.{w["domain"]}", dbname="{w["db"]}",\n',
                   f'                        user="{r.choice(F.USERS)}", password="{v}")\n',
                   f'df = pd.read_sql("SELECT * FROM {w["noun"]}s WHERE created_at > now() - interval \'30 days\'", conn)\n']
        else:
            v = c.new(T.api_secret)
            src = ["import requests\n", "\n", f'API_KEY = "{v}"\n',
                   f'resp = requests.get("https://api.{w["domain"]}/v2/{w["noun"]}s", headers={{"X-Api-Key": API_KEY}}, timeout=30)\n',
                   "resp.raise_for_status()\n"]
        cells.append(code_cell(src, r))
        marks.append(P("encoded", "ipynb-json-escaped", v))
    cells.append(code_cell(["df = pd.DataFrame(rows)\n", "df.groupby('region')['amount'].sum().plot(kind='bar')\n"], r))
    if r.random() < 0.6:
        img = T.b64(T.png(r))
        cells[-1]["outputs"] = [{"data": {"image/png": img + "\n", "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
                                 "metadata": {}, "output_type": "display_data"}]
        marks.append(N("encoded", "ipynb-image-output", img))
    nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                       "language_info": {"name": "python", "version": "3.11.6"}},
          "nbformat": 4, "nbformat_minor": 5}
    c.emit(c.place(["notebooks/⟨noun⟩_exploration.ipynb", "notebooks/⟨verb⟩-⟨noun⟩s.ipynb", "analysis/⟨noun⟩_forecast.ipynb"]),
           json.dumps(nb, indent=1), marks)


def md_cell(src):
    return {"cell_type": "markdown", "metadata": {}, "source": src}


def code_cell(src, r):
    return {"cell_type": "code", "execution_count": r.randint(1, 40), "metadata": {}, "outputs": [], "source": src}


def json_pem(c):
    r = c.r
    w = F.words(r)
    kind = r.choice(["gcp", "gcp", "jwt", "ghapp", "snowflake"])
    if kind == "gcp":
        key = c.new(lambda rr: T.pem("PRIVATE KEY", T.rsa_pkcs8_der(T.rsa_key(rr))))
        proj = f"{w['noun']}-{r.choice(['prod', 'analytics', 'platform'])}-{r.randint(100000, 999999)}"
        sa = r.choice(["deployer", "bq-export", "gcs-writer", "cloud-run"])
        obj = {"type": "service_account", "project_id": proj, "private_key_id": T.rs(r, T.HEX, 40),
               "private_key": key, "client_email": f"{sa}@{proj}.iam.gserviceaccount.com",
               "client_id": T.rs(r, string.digits, 21), "auth_uri": "https://accounts.google.com/o/oauth2/auth",
               "token_uri": "https://oauth2.googleapis.com/token",
               "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
               "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{sa}%40{proj}.iam.gserviceaccount.com",
               "universe_domain": "googleapis.com"}
        paths = ["credentials/⟨env⟩-service-account.json", "deploy/gcp-sa.json", "secrets/⟨noun⟩-sa.json"]
    else:
        key = c.new(T.private_key_pem)
        if kind == "jwt":
            obj = {"auth": {"issuer": f"https://auth.{w['domain']}", "audience": w["noun"] + "-api",
                            "signingKey": key, "ttlSeconds": 900}, "port": w["port"]}
        elif kind == "ghapp":
            obj = {"appId": r.randint(100000, 999999), "installationId": r.randint(10**7, 10**8), "privateKey": key,
                   "webhookPath": "/github/events"}
        else:
            obj = {"account": f"{r.choice(['xy', 'ab', 'nw'])}{r.randint(10000, 99999)}.{w['region']}",
                   "user": r.choice(F.USERS).upper(), "warehouse": "TRANSFORM_WH", "private_key": key}
        paths = ["config/⟨env⟩.json", "config/⟨noun⟩-credentials.json", "secrets/app-keys.json"]
    text = json.dumps(obj, indent=2)
    esc = json.dumps(key)[1:-1]
    if kind == "gcp":
        # a service-account file is one credential: the label spans the whole object
        mark = P("encoded", "json-pem-escaped", key, needle='"type": "service_account"', end='"universe_domain"', encoded=esc)
    else:
        mark = P("encoded", "json-pem-escaped", key, needle=esc, encoded=esc)
    c.emit(c.place(paths), text, [mark])


def escaped_prefix(c):
    """A token whose first characters are written as escapes or character references, so that
    its prefix is not in the file as text: what a developer does to get a key past a scanner
    (or what an encoder that escapes everything writes)."""
    r = c.r
    w = F.words(r)
    tok = c.new(lambda rr: T.github(rr, rr.choice(["ghp_", "gho_", "ghs_"])))
    n = r.randint(1, 3)
    style = r.choice(["js", "python", "json", "xml", "rust", "php", "c"])
    if style in ("js", "python"):
        head = "".join(f"\\x{ord(ch):02x}" for ch in tok[:n])
    elif style == "c":
        # C reads every hex digit of `\x`: leading zeros are allowed.
        head = "".join(f"\\x00{ord(ch):02x}" for ch in tok[:n])
    elif style == "json":
        head = "".join(f"\\u{ord(ch):04x}" for ch in tok[:n])
    elif style == "xml":
        head = "".join(f"&#{ord(ch)};" for ch in tok[:n])
    elif style == "rust":
        head = "".join(f"\\u{{{ord(ch):x}}}" for ch in tok[:n])
    else:
        head = "".join(f"\\{ord(ch):o}" for ch in tok[:n])
    esc = head + tok[n:]
    noun = w["noun"]
    if style == "js":
        path, text = f"src/{noun}/client.js", (f"import {{ request }} from './http.js';\n\nconst base = 'https://api.github.com';\n"
                                               f"const auth = `\\x20${{'{esc}'}}`.trim();\n\nexport function get(p) {{\n  return request(base + p, auth);\n}}\n")
    elif style == "python":
        path, text = f"{noun}/settings.py", f"import os\n\nDEBUG = False\nGH = \"{esc}\"\nTIMEOUT = 30\n"
    elif style == "json":
        path, text = f"config/{noun}.json", json.dumps({"name": noun, "gh": "@@"}, indent=2).replace("@@", esc)
    elif style == "xml":
        path, text = (f"{noun}/App.config", f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n'
                      f'    <add key="{noun}.gh" value="{esc}" />\n  </appSettings>\n</configuration>\n')
    elif style == "c":
        path, text = f"src/{noun}.c", f'#include "{noun}.h"\n\nstatic const char *gh_token = "{esc}";\n\nconst char *{noun}_token(void) {{ return gh_token; }}\n'
    elif style == "rust":
        path, text = f"src/{noun}.rs", f'pub const GH: &str = "{esc}";\n\npub fn base() -> &\'static str {{\n    "https://api.github.com"\n}}\n'
    else:
        path, text = f"{noun}/config.php", f"<?php\n\nreturn [\n    'gh' => \"{esc}\",\n    'timeout' => 30,\n];\n"
    c.emit(c.place([path]), text, [P("encoded", f"escaped-prefix-{style}", tok, needle=esc, encoded=esc)])


def split_literal(c):
    """A token whose prefix is split across joined string literals (`"gh" + "p_..."`), so that
    the keyword is in no single literal: JavaScript, PHP or Lua, with or without spaces around
    the join, or Python's literals side by side (`("gh" "p_...")`); named `token`, or by a
    word no rule knows, so that nothing else on the line is a keyword."""
    w = F.words(c.r)
    tok = c.new(lambda rr: T.github(rr, rr.choice(["ghp_", "gho_"])))
    cut = c.r.randint(1, 3)
    style = c.r.choice(["js", "php", "lua"])
    # Drawn apart from the corpus's stream, which stays as it was before these variants.
    own = random.Random(tok)
    style = "py" if own.random() < 0.25 else style
    pad = own.choice([" ", ""])
    noun = w["noun"]
    name = own.choice(["token", noun])
    if style == "js":
        esc = f'"{tok[:cut]}"{pad}+{pad}"{tok[cut:]}"'
        path, text = f"src/{noun}/auth.js", f"const {name} = {esc};\n\nmodule.exports = {{ {name} }};\n"
    elif style == "php":
        esc = f"'{tok[:cut]}'{pad}.{pad}'{tok[cut:]}'"
        path, text = f"{noun}/auth.php", f"<?php\n\n${name} = {esc};\n"
    elif style == "lua":
        esc = f'"{tok[:cut]}"{pad}..{pad}"{tok[cut:]}"'
        path, text = f"{noun}/auth.lua", f"local M = {{}}\nM.{name} = {esc}\nreturn M\n"
    else:
        esc = f'"{tok[:cut]}" "{tok[cut:]}"'
        path, text = f"{noun}/auth.py", f"{name.upper()} = ({esc})\n"
    c.emit(c.place([path]), text, [P("encoded", f"split-literal-{style}", tok, needle=esc, encoded=esc)])


def escaped_punctuation(c):
    """A Slack token whose dashes are two-digit octal escapes (`xoxb\\55...`), as C, Python,
    PHP and Ruby read them: the keyword `xoxb-` is not in the file as text."""
    w = F.words(c.r)
    tok = c.new(T.slack_xoxb)
    esc = tok.replace("-", "\\55")
    noun = w["noun"]
    path, text = f"{noun}/notify.py", f"import requests\n\nSLACK = \"{esc}\"\n\ndef post(text):\n    return requests.post(URL, headers={{'Authorization': 'Bearer ' + SLACK}}, json={{'text': text}})\n"
    c.emit(c.place([path]), text, [P("encoded", "escaped-punctuation-python", tok, needle=esc, encoded=esc)])


def der_base64_key(c, public=False):
    """A private key as base64 DER without PEM armor (a config value or environment variable
    holding it); negatives: public keys the same way."""
    r = c.r
    if public:
        der = c.new(lambda rr: T.rsa_public_der(T.rsa_key(rr)))
    else:
        kind = r.choice(["pkcs1", "pkcs8", "ec"])
        if kind == "ec":
            der = c.new(lambda rr: T.ec_sec1_der(rr))
        else:
            conv = T.rsa_pkcs1_der if kind == "pkcs1" else T.rsa_pkcs8_der
            der = c.new(lambda rr: conv(T.rsa_key(rr)))
    value = base64.b64encode(der).decode()
    names = (["JWT_PUBLIC_KEY", "SAML_IDP_CERT_KEY", "VERIFY_KEY_DER"] if public
             else ["JWT_SIGNING_KEY", "SAML_SP_KEY", "APNS_AUTH_KEY", "RSA_KEY_DER", "TOKEN_SIGNER"])
    mark = (N if public else P)("distinctive", "der-base64-" + ("public" if public else "private"), value)
    c.queue(Item(r.choice(names), value, [mark]))


def json_pem_public(c):
    r = c.r
    key = c.new(T.public_key_pem)
    w = F.words(r)
    obj = {"keys": {"kid": T.rs(r, T.HEX, 16), "use": "sig", "alg": "RS256", "publicKey": key},
           "issuer": f"https://auth.{w['domain']}", "cacheSeconds": 3600}
    c.emit(c.place(["config/jwt-verify.json", "config/⟨noun⟩-public-key.json"], negative=True), json.dumps(obj, indent=2),
           [N("encoded", "json-pem-public-key", key, needle=json.dumps(key)[1:-1], encoded=json.dumps(key)[1:-1])])


def split_literals(pem_text, lang):
    lines = pem_text.rstrip("\n").split("\n")
    if lang in ("java", "js", "ts", "go", "kotlin"):
        ind = {"java": "            ", "kotlin": "        ", "js": "  ", "ts": "  ", "go": "\t"}[lang]
        qch = "'" if lang in ("js",) else '"'
        parts = [f"{ind}{qch}{ln}\\n{qch}" for ln in lines]
        return " +\n".join(parts)
    ind = "    "
    return "\n".join(f'{ind}"{ln}\\n"' for ln in lines)


def pem_split(c, public=False):
    r = c.r
    lang = r.choice(["java", "js", "python", "c", "go", "ts", "kotlin"])
    key = c.new(T.public_key_pem) if public else c.new(T.private_key_pem)
    label = key.split("\n")[0]
    endl = key.rstrip("\n").split("\n")[-1]
    lit = split_literals(key, lang)
    name = r.choice(["SIGNING_KEY", "PRIVATE_KEY", "CLIENT_KEY", "JWT_PRIVATE_KEY"]) if not public else r.choice(["PUBLIC_KEY", "VERIFY_KEY"])
    w = F.words(r)
    if lang == "java":
        body = (f"package com.{r.choice(['northwind', 'contoso'])}.auth;\n\nimport java.security.KeyFactory;\n"
                f"import java.util.Base64;\n\npublic final class {F.pascal(w['noun'])}Keys {{\n\n"
                f"    static final String {name} =\n{lit};\n\n{F.java_methods(r, 1)}}}\n")
        paths = ["src/main/java/com/⟨org⟩/⟨pkgj⟩/auth/⟨Noun⟩Keys.java"]
    elif lang == "kotlin":
        body = (f"package com.{r.choice(['northwind', 'contoso'])}.auth\n\nobject {F.pascal(w['noun'])}Keys {{\n"
                f"    val {F.camel(name)}: String =\n{lit}\n}}\n")
        paths = ["app/src/main/kotlin/com/⟨org⟩/auth/⟨Noun⟩Keys.kt"]
    elif lang in ("js", "ts"):
        head, code = F.js_code(r)
        decl = "export const" if lang == "ts" else "const"
        body = f"{head}\n{decl} {name} =\n{lit};\n\n{code}"
        paths = ["src/auth/keys.ts", "src/lib/jwt.ts"] if lang == "ts" else ["lib/sign.js", "src/auth/keys.js"]
    elif lang == "go":
        body = (f"package auth\n\nimport (\n\t\"crypto/x509\"\n\t\"encoding/pem\"\n)\n\n"
                f"const {F.camel(name)} =\n{lit}\n\n{F.go_code(r, 1)}")
        paths = ["internal/auth/keys.go", "pkg/signer/key.go"]
    elif lang == "python":
        head, code = F.py_code(r, 1)
        body = f"{head}\n{name} = (\n{lit}\n)\n\n\n{code}"
        paths = ["⟨pkg⟩/auth/keys.py", "⟨pkg⟩/signing.py"]
    else:
        body = (f"#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n\n"
                f"static const char *{name.lower()} =\n{lit};\n\n{F.c_code(r)}")
        paths = ["src/tls_client.c", "firmware/net/credentials.c"]
    mk = N if public else P
    fmt = "pem-public-split" if public else "pem-split-literals"
    c.emit(c.place(paths, negative=public), body, [mk("encoded", fmt, key, needle=label, end=endl)])


def aligned_assignment(c):
    """Session 29: names aligned as `terraform fmt` and `gofmt` leave them, many spaces before
    `=` or after `:`."""
    r = c.r
    if r.random() < 0.5:
        v = c.new(T.password, "!*+-.=?_~^")
        name = r.choice(["password", "master_password", "auth_token"])
        pad = " " * r.randint(6, 18)
        text = (f'resource "aws_db_instance" "main" {{\n  identifier{" " * (len(name) + len(pad) - 10)} = "main"\n'
                f'  engine{" " * (len(name) + len(pad) - 6)} = "postgres"\n  {name}{pad} = "{v}"\n'
                f'  skip_final_snapshot{" " * max(1, len(name) + len(pad) - 19)} = true\n}}\n')
        c.emit(c.place(["infra/⟨db⟩/main.tf", "terraform/⟨env⟩/rds.tf"]), text, [P("context", "terraform-aligned", v)])
    else:
        v = c.new(T.password, "!*+-.=?_~^#")
        pad = " " * r.randint(6, 16)
        text = (f"package mail\n\nvar defaultConfig = Config{{\n\tHost:{pad}   \"smtp.internal\",\n\tPort:{pad}   587,\n"
                f"\tPassword:{pad}\"{v}\",\n}}\n")
        c.emit(c.place(["internal/mail/smtp.go", "pkg/⟨noun⟩/config.go"]), text, [P("context", "gofmt-aligned", v)])


def cli_secret(c):
    """Session 29: a secret on a command line in a script."""
    r = c.r
    v = c.new(T.password, "!*+-.=?@_~^")
    form = r.choice(["docker-env", "wget-password", "helm-set"])
    line = {
        "docker-env": f"docker run -d --name pg -e POSTGRES_PASSWORD={v} -p 5432:5432 postgres:16",
        "wget-password": f"wget --user=reports --password={v} https://reports.internal/api/weekly.csv",
        "helm-set": f"helm upgrade api ./chart --install --set db.password={v} --wait",
    }[form]
    text = f"#!/bin/sh\nset -eu\n{line}\necho done\n"
    c.emit(c.place(["scripts/run-local.sh", "ops/⟨noun⟩-deploy.sh"]), text, [P("context", f"cli-{form}", v)])


def percent_password(c):
    """Session 29: a generated password with `%` in it (printf's `%s` stays a placeholder)."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^")
    cut = r.randint(2, len(v) - 2)
    v = v[:cut] + r.choice(["%", "%%", "%S"]) + v[cut:]
    text = f"APP_ENV=production\nDB_HOST=db.internal\nDB_PASSWORD={v}\nLOG_LEVEL=info\n"
    c.emit(c.place([".env.production", "deploy/⟨env⟩.env"]), text, [P("context", "dotenv-percent", v)])
    text = 'DB_USER = "app"\nDB_PASSWORD = "%s"\nAPI_TOKEN = "%-24s"\n'
    c.emit(c.place(["⟨pkg⟩/settings_template.py"], negative=True), text,
           [N("context", "printf-placeholder", "%s", needle='"%s"')])


def commented_pem(c):
    """Session 29: an old key commented out line by line."""
    r = c.r
    key = c.new(T.private_key_pem)
    mark = r.choice(["# ", "#", "// ", "; "])
    lines = key.rstrip("\n").split("\n")
    body = "\n".join("  " + mark + l for l in lines)
    text = f"signing:\n  algorithm: RS256\n  # rotated in March, old key kept for reference\n{body}\n  key_file: /run/secrets/signing.pem\n"
    c.emit(c.place(["config/⟨svc⟩.yaml", "deploy/⟨env⟩/signing.yaml"]), text,
           [P("encoded", "pem-commented", key, needle=lines[0], end=lines[-1])])


def server_directive(c):
    """Session 30: a password in a server's `directive value` configuration."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^")
    form = r.choice(["redis", "keepalived", "fluent-bit"])
    if form == "redis":
        text = (f"bind 0.0.0.0\nport 6379\nprotected-mode yes\nrequirepass {v}\nmaxmemory 512mb\n"
                "maxmemory-policy allkeys-lru\n")
        paths = ["deploy/redis/redis.conf", "ops/⟨env⟩/redis.conf"]
    elif form == "keepalived":
        text = ("vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n"
                f"    priority 100\n    authentication {{\n        auth_type PASS\n        auth_pass {v}\n    }}\n}}\n")
        paths = ["ops/keepalived/keepalived.conf"]
    else:
        text = (f"[OUTPUT]\n    Name        es\n    Match       app.*\n    Host        es.internal\n"
                f"    HTTP_User   fluent\n    HTTP_Passwd {v}\n    tls         On\n")
        paths = ["ops/fluent-bit/outputs.conf", "deploy/logging/fluent-bit.conf"]
    c.emit(c.place(paths), text, [P("context", f"directive-{form}", v)])


def cli_positional(c):
    """Session 30: a password a command takes glued to a flag or as a positional argument."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^")
    form = r.choice(["sshpass", "mysql", "htpasswd", "net-use"])
    if form == "net-use":
        text = f"@echo off\r\nnet use Z: \\\\files01\\finance /user:CORP\\svc_backup {v} /persistent:no\r\nrobocopy Z:\\ D:\\backup /MIR\r\n"
        paths = ["scripts/mount_share.bat", "ops/⟨noun⟩-backup.cmd"]
    else:
        line = {
            "sshpass": f"sshpass -p '{v}' scp -o StrictHostKeyChecking=no app@10.0.4.12:/var/log/app.log .",
            "mysql": f"mysqldump -h db.internal -u backup -p'{v}' --single-transaction --all-databases > /backup/all.sql",
            "htpasswd": f"htpasswd -b -c /etc/nginx/.htpasswd admin {v}",
        }[form]
        text = f"#!/bin/sh\nset -eu\n{line}\necho done\n"
        paths = ["scripts/⟨noun⟩.sh", "ops/⟨noun⟩-setup.sh"]
    c.emit(c.place(paths), text, [P("context", f"cli-{form}", v)])


def pgpass(c):
    """Session 30: a PostgreSQL password file line."""
    r = c.r
    w = F.words(r)
    v = c.new(T.password, "!*+-.=?_~^")
    host = f"{w['db']}-{r.choice(['primary', 'replica', 'main'])}.{w['domain']}"
    text = f"{host}:{r.choice([5432, 6432])}:{w['db']}:{r.choice(F.USERS)}:{v}\n"
    c.emit(c.place(["ops/⟨env⟩/pgpass", "deploy/.pgpass"]), text, [P("context", "pgpass", v)])


def log_query_token(c):
    """Session 30: a token in a URL's query string in an access log."""
    r = c.r
    tok = c.new(lambda rr: T.rs(rr, T.ALNUM, 40))
    name = r.choice(["access_token", "api_key", "private_token"])
    line = (f'203.0.113.{r.randint(2, 250)} - - [12/Mar/2026:11:02:03 +0000] "GET /api/export?{name}={tok}&format=csv '
            f'HTTP/1.1" 200 {r.randint(200, 9000)} "-" "curl/8.4"')
    text = "\n".join([f'10.0.0.{i} - - [12/Mar/2026:11:0{i}:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"'
                      for i in range(1, 4)] + [line, ""])
    c.emit(c.place(["logs/nginx-access.log", "var/log/⟨noun⟩-access.log"]), text, [P("context", "log-query-token", tok)])


def call_argument(c):
    """Session 30: a password passed to a setter or a login call."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^")
    if r.random() < 0.5:
        text = ("package com.acme.ldap;\n\npublic class LdapConfig {\n    public LdapContextSource source() {\n"
                "        LdapContextSource s = new LdapContextSource();\n        s.setUrl(\"ldaps://ldap.internal:636\");\n"
                f"        s.setUserDn(\"cn=svc,dc=acme\");\n        s.setPassword(\"{v}\");\n        return s;\n    }}\n}}\n")
        c.emit(c.place(["src/main/java/com/acme/⟨noun⟩/LdapConfig.java"]), text, [P("context", "java-setter", v)])
    else:
        text = (f"import requests\n\n\ndef fetch(url):\n    return requests.get(url, auth=(\"reports\", \"{v}\"), timeout=10)\n")
        c.emit(c.place(["⟨pkg⟩/clients/reports.py"]), text, [P("context", "requests-auth-tuple", v)])


def wallet_key(c):
    """Session 30: a Bitcoin WIF key (base58check) or a Hardhat account key; a testnet WIF is a
    negative."""
    r = c.r
    if r.random() < 0.5:
        k = c.new(T.bitcoin_wif)
        test = c.new(lambda rr: T.bitcoin_wif(rr, True, 0xEF))
        text = f"# cold wallet\naddress: bc1q{T.rs(r, '023456789acdefghjklmnpqrstuvwxyz', 38)}\nprivkey (WIF): {k}\n"
        c.emit(c.place(["wallet/⟨noun⟩.txt", "ops/keys/⟨noun⟩-wallet.md"]), text, [P("context", "bitcoin-wif", k)])
        text = f"# regtest fixtures\nWIF_TESTNET = \"{test}\"\n"
        c.emit(c.place(["tests/fixtures/⟨noun⟩_wallet.py"], negative=True), text, [N("context", "bitcoin-wif-testnet", test)])
    else:
        k = "0x" + T.rs(r, "0123456789abcdef", 64)
        text = ("require('@nomicfoundation/hardhat-toolbox');\n\nmodule.exports = {\n  solidity: '0.8.24',\n  networks: {\n"
                f"    sepolia: {{\n      url: process.env.SEPOLIA_URL,\n      accounts: ['{k}'],\n    }},\n  }},\n}};\n")
        c.emit(c.place(["contracts/hardhat.config.js"]), text, [P("context", "hardhat-account", k)])


def compressed_base64(c):
    """Session 31: a key in base64 of gzip'd text (cloud-init `encoding: gz+b64`, Terraform's
    `base64gzip()` in a state file)."""
    import base64
    import gzip
    r = c.r
    tok = c.new(T.github)
    script = f"#!/bin/sh\nset -eu\nexport GITHUB_TOKEN={tok}\n/opt/deploy/bin/sync --all\n"
    blob = base64.b64encode(gzip.compress(script.encode(), mtime=0)).decode()
    if r.random() < 0.5:
        text = (f"#cloud-config\npackage_update: true\nwrite_files:\n- path: /opt/deploy/boot.sh\n  permissions: '0755'\n"
                f"  encoding: gz+b64\n  content: {blob}\nruncmd:\n- /opt/deploy/boot.sh\n")
        c.emit(c.place(["deploy/cloud-init/⟨noun⟩.yaml", "infra/⟨env⟩/user-data.yaml"]), text,
               [P("encoded", "cloud-init-gz-b64", tok, needle=blob[:40])])
    else:
        text = ('{\n  "version": 4,\n  "resources": [\n    {\n      "type": "aws_launch_template",\n      "name": "web",\n'
                f'      "instances": [{{"attributes": {{"user_data": "{blob}"}}}}]\n    }}\n  ]\n}}\n')
        c.emit(c.place(["infra/⟨env⟩/terraform.tfstate"]), text, [P("encoded", "tfstate-base64gzip", tok, needle=blob[:40])])


def fallback_default(c):
    """Session 31: a secret-named environment variable's fallback literal, and a shell or
    compose `${VAR:-default}`."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^")
    form = r.choice(["laravel", "python", "node", "compose"])
    if form == "laravel":
        text = ("<?php\n\nreturn [\n    'connections' => [\n        'mysql' => [\n            'host' => env('DB_HOST', '127.0.0.1'),\n"
                f"            'username' => env('DB_USERNAME', 'app'),\n            'password' => env('DB_PASSWORD', '{v}'),\n        ],\n    ],\n];\n")
        paths = ["config/database.php"]
    elif form == "python":
        text = f"import os\n\nDEBUG = os.getenv('DEBUG', '0') == '1'\nSECRET_KEY = os.getenv('DJANGO_SECRET_KEY', '{v}')\n"
        paths = ["⟨pkg⟩/settings.py"]
    elif form == "node":
        text = f"const jwt = require('jsonwebtoken');\n\nconst SECRET = process.env.JWT_SECRET ?? '{v}';\nmodule.exports = (p) => jwt.sign(p, SECRET);\n"
        paths = ["src/auth/sign.js"]
    else:
        text = (f"services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n"
                f"      POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD:-{v}}}\n")
        paths = ["docker-compose.yml", "deploy/⟨env⟩/compose.yaml"]
    c.emit(c.place(paths), text, [P("context", f"fallback-{form}", v)])


def server_config(c):
    """Session 31: passwords in servers' own syntax (HAProxy, Dovecot, SSSD) and an Ansible
    inventory's host line."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^")
    form = r.choice(["haproxy", "dovecot", "sssd", "ansible"])
    if form == "haproxy":
        text = (f"global\n    log stdout format raw local0\n\nuserlist ops\n    user admin insecure-password {v}\n\n"
                "frontend stats\n    bind *:8404\n    stats enable\n")
        paths = ["ops/haproxy/haproxy.cfg"]
    elif form == "dovecot":
        text = f"support@acme.io:{{PLAIN}}{v}:5000:5000::/var/mail/acme/support\n"
        paths = ["ops/dovecot/users"]
    elif form == "sssd":
        text = ("[domain/corp]\nid_provider = ldap\nldap_uri = ldaps://ldap.internal\nldap_default_bind_dn = cn=sssd,dc=acme\n"
                f"ldap_default_authtok_type = password\nldap_default_authtok = {v}\n")
        paths = ["ops/sssd/sssd.conf"]
    else:
        text = (f"[web]\nweb-01 ansible_host=10.0.1.11 ansible_user=deploy ansible_ssh_pass={v}\n\n"
                "[web:vars]\nansible_python_interpreter=/usr/bin/python3\n")
        paths = ["ansible/inventories/⟨env⟩/hosts.ini"]
    c.emit(c.place(paths), text, [P("context", f"server-{form}", v)])


WORDS32 = ["granite", "quartz", "lantern", "velvet", "signal", "meadow", "falcon", "ember", "pixel", "willow", "cobalt",
           "thistle", "harbor", "juniper", "saffron", "tundra", "orchid", "marble", "copper", "summit"]


def table_cells(c):
    """Session 32: a password in a table's cell, named only by its column's header (a CSV
    inventory, a Markdown runbook, a MediaWiki page, a Confluence export), and a table whose
    secret-looking column holds hashes."""
    r = c.r
    v = c.new(T.password, "!*+-.=?_~^#@")
    host = f"{r.choice(['esx', 'db', 'bmc', 'fw'])}{r.randint(1, 40):02d}"
    form = r.choice(["csv", "markdown", "wiki", "html"])
    if form == "csv":
        text = (f"hostname,ip,vendor,bmc_user,bmc_password,rack\n{host},10.10.250.{r.randint(2, 250)},Dell iDRAC9,root,{v},R14\n"
                f"{host}b,10.10.250.{r.randint(2, 250)},HPE iLO5,Administrator,<see vault>,R15\n")
        paths = ["inventory/⟨env⟩-bmc.csv", "ops/exports/⟨noun⟩-hosts.csv"]
    elif form == "markdown":
        text = ("# Access\n\nAsk #ops before changing anything.\n\n| System | Username | Password | Notes |\n|---|---|---|---|\n"
                f"| {host} | admin | `{v}` | rotate yearly |\n| Printer | admin | see 1Password | |\n")
        paths = ["docs/runbooks/⟨noun⟩-access.md"]
    elif form == "wiki":
        text = ("== Database access ==\n{| class=\"wikitable\"\n! Host !! User !! Password !! Notes\n|-\n"
                f"| {host} || app_ro || {v} || replica\n|}}\n")
        paths = ["wiki/Database_Access.wiki"]
    else:
        text = ("<h1>Onboarding</h1>\n<table><tbody>\n<tr><th>System</th><th>User</th><th>Password</th></tr>\n"
                f"<tr><td>{host}</td><td>team</td><td>{v}</td></tr>\n</tbody></table>\n")
        paths = ["exports/confluence/⟨noun⟩-onboarding.xml"]
    c.emit(c.place(paths), text, [P("context", f"table-{form}", v)])
    h = "$2b$12$" + T.b64(bytes(r.getrandbits(8) for _ in range(40)))[:53].replace("+", ".")
    text = f"user,password_hash,created_at\nbob,{h},2024-05-01\n"
    c.emit(c.place(["exports/⟨noun⟩-users.csv"], negative=True), text, [N("context", "table-hash-column", h)])


def network_device(c):
    """Session 32: shared secrets in network devices' configurations, plaintext or in a
    reversible form (Cisco type 7, SNMP communities, a TACACS+ server's key, Juniper $9$)."""
    r = c.r
    v = c.new(T.password, "")
    form = r.choice(["type7", "snmp", "tacacs", "juniper"])
    if form == "type7":
        v = "".join(r.choice("0123456789ABCDEF") for _ in range(22))
        text = f"hostname core-sw01\n!\nusername backup privilege 5 password 7 {v}\n!\n"
        paths = ["network/cisco/⟨noun⟩-sw01.cfg"]
    elif form == "snmp":
        text = f"hostname edge-rt02\n!\nsnmp-server community {v} RO 99\nsnmp-server location DC1\n!\n"
        paths = ["network/cisco/⟨noun⟩-rt02.cfg"]
    elif form == "tacacs":
        text = f"tacacs server TAC1\n address ipv4 10.10.0.40\n key {v}\n!\naaa group server tacacs+ ADMIN\n server name TAC1\n"
        paths = ["network/cisco/⟨noun⟩-aaa.cfg"]
    else:
        v = "$9$" + "".join(r.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./") for _ in range(22))
        text = f"system {{\n    radius-server {{\n        10.10.0.41 secret \"{v}\"; ## SECRET-DATA\n    }}\n}}\n"
        paths = ["network/juniper/⟨noun⟩-mx01.conf"]
    c.emit(c.place(paths), text, [P("context", f"network-{form}", v)])
    text = "snmp-server community public RO\nsnmp-server community private RW\n"
    c.emit(c.place(["network/cisco/⟨noun⟩-lab.cfg"], negative=True), text, [N("context", "network-default-community", "private")])


def passphrase(c):
    """Session 32: a memorable passphrase (words and a number) under a password name, which
    the generic assignment rules took for an identifier."""
    r = c.r
    v = "-".join(r.sample(WORDS32, 3)) + f"-{r.randint(10, 99)}"
    form = r.choice(["env", "gradle", "s3cfg"])
    if form == "env":
        text = f"APP_ENV=prod\nJWT_PASSPHRASE={v}\nMAILER_DSN=null://null\n"
        paths = [".env.prod.local", "deploy/⟨env⟩/.env"]
    elif form == "gradle":
        text = f"org.gradle.jvmargs=-Xmx2g\nsigning.keyId=784F2AED\nsigning.password={v}\n"
        paths = ["gradle.properties"]
    else:
        text = f"[default]\nhost_base = s3.amazonaws.com\ngpg_passphrase = {v}\nuse_https = True\n"
        paths = ["ops/backup/.s3cfg"]
    c.emit(c.place(paths), text, [P("context", f"passphrase-{form}", v)])
    text = "kind: Secret\nmetadata:\n  name: app\npassword_secret: prod-database-credentials-2\n"
    c.emit(c.place(["deploy/⟨env⟩/refs.yaml"], negative=True), text,
           [N("context", "passphrase-identifier", "prod-database-credentials-2")])


def framework_key(c):
    """Session 32: applications' own keys (WordPress salts, Magento's crypt key, Django's
    SECRET_KEY)."""
    r = c.r
    form = r.choice(["wordpress", "magento", "django"])
    if form == "wordpress":
        v = "".join(r.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_[]{}<>~+=,.;:/?|")
                    for _ in range(64))
        name = r.choice(["SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT"])
        text = f"<?php\ndefine( 'DB_NAME', 'wp' );\ndefine( '{name}', '{v}' );\ndefine( 'WP_DEBUG', false );\n"
        paths = ["sites/⟨noun⟩/wp-config.php"]
    elif form == "magento":
        v = "".join(r.choice("0123456789abcdef") for _ in range(32))
        text = f"<?php\nreturn [\n    'crypt' => [\n        'key' => '{v}'\n    ],\n    'MAGE_MODE' => 'production',\n];\n"
        paths = ["app/etc/env.php"]
    else:
        v = "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)") for _ in range(50))
        text = f"DEBUG = False\nALLOWED_HOSTS = [\"⟨noun⟩.org\"]\nSECRET_KEY = \"{v}\"\n"
        paths = ["⟨pkg⟩/settings/production.py"]
    c.emit(c.place(paths), text, [P("context", f"framework-{form}", v)])


def token_uuid(c):
    """Session 33: a UUID that is a token (Codecov's upload token, a Railway CLI token, a Splunk
    HEC token), where the generic rules took every UUID for an identifier; a UUID under an
    id's name as the negative."""
    r = c.r
    n = F.words(r)["noun"]
    v = c.new(T.uuid4)
    form = r.choice(["codecov", "railway", "vector"])
    if form == "codecov":
        text = f"codecov:\n  token: {v}\n  require_ci_to_pass: true\ncoverage:\n  precision: 2\n"
        paths = ["codecov.yml", "⟨svc⟩/codecov.yml"]
    elif form == "railway":
        text = f'{{\n  "user": {{\n    "token": "{v}"\n  }},\n  "projects": {{}}\n}}\n'
        paths = ["dotfiles/⟨noun⟩/.railway/config.json"]
    else:
        text = (f'[sinks.splunk]\ntype = "splunk_hec_logs"\ninputs = ["app"]\nendpoint = "https://hec.{n}.internal:8088"\n'
                f'default_token = "{v}"\n')
        paths = ["ops/vector/vector.toml"]
    c.emit(c.place(paths), text, [P("context", f"token-uuid-{form}", v)])
    u = c.new(T.uuid4)
    text = f"auth:\n  tenant_id: {u}\n  token_endpoint: https://login.{n}.io/oauth2/token\n"
    c.emit(c.place(["config/⟨noun⟩-auth.yaml"], negative=True), text, [N("context", "token-uuid-tenant", u)])


def key_name(c):
    """Session 33: a random value under a name that ends in `Key` and says nothing else
    (`elevenLabsKey`, `IMGPROXY_KEY`, C#'s `Key = Convert.FromBase64String(..)`); a public key
    under `PublicKey` as the negative."""
    r = c.r
    n = F.words(r)["noun"]
    form = r.choice(["ts", "yaml", "csharp"])
    if form == "ts":
        v = c.new(lambda rr: T.rs(rr, "0123456789abcdef", 40))
        name = r.choice(["deepgramKey", "ocrKey", "speechKey", "translatorKey"])
        text = f"export const voice = {{\n  {name}: '{v}',\n  region: 'westeurope',\n}}\n"
        paths = ["⟨svc⟩/src/config.ts"]
    elif form == "yaml":
        v = c.new(lambda rr: T.rs(rr, "0123456789abcdef", 64))
        text = f"environment:\n  IMGPROXY_BIND: \":8080\"\n  IMGPROXY_KEY: {v}\n  IMGPROXY_USE_ETAG: \"true\"\n"
        paths = ["services/imgproxy/serverless.yml", "deploy/⟨env⟩/imgproxy.yml"]
    else:
        v = c.new(lambda rr: T.b64(T.rbytes(rr, 32)))
        text = ("namespace Claims.Core.Crypto;\n\ninternal static class FieldProtector\n{\n"
                f"    private static readonly byte[] Key = Convert.FromBase64String(\"{v}\");\n}}\n")
        paths = ["src/⟨Pascal⟩.Core/Crypto/FieldProtector.cs"]
    c.emit(c.place(paths), text, [P("context", f"key-name-{form}", v)])
    pub = c.new(lambda rr: T.b64(T.rbytes(rr, 32)))
    text = f"[Interface]\nAddress = 10.8.0.2/24\n\n[Peer]\nPublicKey = {pub}\nEndpoint = vpn.{n}.io:51820\n"
    c.emit(c.place(["ops/wireguard/⟨noun⟩-peer.conf"], negative=True), text, [N("context", "key-name-public", pub)])


def header_pair(c):
    """Session 33: an API key in a header written as a name/value pair (a Postman collection's
    `{"key": "X-Partner-Key", "value": ..}`, a Bruno request's `key:`/`value:`)."""
    r = c.r
    n = F.words(r)["noun"]
    v = c.new(lambda rr: T.rs(rr, "0123456789abcdef", 40))
    if r.random() < 0.5:
        text = ('{\n  "info": {"name": "partner"},\n  "item": [{\n    "request": {\n      "header": [\n        {\n'
                f'          "key": "X-Partner-Key",\n          "value": "{v}"\n        }}\n      ]\n    }}\n  }}]\n}}\n')
        paths = ["api/⟨noun⟩.postman_collection.json"], "postman"
    else:
        text = (f"meta {{\n  name: create order\n  type: http\n}}\n\nauth:apikey {{\n  key: X-Api-Key\n  value: {v}\n"
                "  placement: header\n}\n")
        paths = ["api/bruno/⟨noun⟩/create.bru"], "bruno"
    c.emit(c.place(paths[0]), text, [P("context", f"header-pair-{paths[1]}", v)])


def device_line(c):
    """Session 33: more network devices' secrets (a Cisco line's `password 0`, a BGP neighbor's
    password, a MikroTik security profile's pre-shared key)."""
    r = c.r
    n = F.words(r)["noun"]
    v = c.new(T.password, "!#%")
    form = r.choice(["line", "bgp", "mikrotik"])
    if form == "line":
        text = f"hostname lon-core1\n!\nline vty 0 4\n password 0 {v}\n transport input ssh\n!\n"
    elif form == "bgp":
        text = f"router bgp 64512\n neighbor 192.0.2.1 remote-as 64500\n neighbor 192.0.2.1 password {v}\n!\n"
    else:
        text = ("/interface wireless security-profiles\nset [ find default=yes ] authentication-types=wpa2-psk "
                f"mode=dynamic-keys wpa2-pre-shared-key=\"{v}\"\n")
    c.emit(c.place(["network/⟨noun⟩-" + form + ".cfg"]), text, [P("context", f"device-{form}", v)])


def db_connect(c):
    """Session 33: a password passed positionally to a database connect call (Perl's
    DBI->connect, PHP's PDO)."""
    r = c.r
    n = F.words(r)["noun"]
    v = c.new(T.password, "!*#")
    if r.random() < 0.5:
        text = ("use strict;\nuse DBI;\n"
                f'my $dbh = DBI->connect("dbi:Pg:dbname={n};host=db.{n}.internal", "backfill", "{v}");\n')
        paths, form = ["scripts/⟨noun⟩-backfill.pl"], "dbi"
    else:
        text = f"<?php\n$pdo = new PDO('mysql:host=db.{n}.internal;dbname=shop', 'shop', '{v}');\n"
        paths, form = ["legacy/⟨noun⟩/db.php"], "pdo"
    c.emit(c.place(paths), text, [P("context", f"db-connect-{form}", v)])


def byte_array_key(c):
    """Session 34: a key written as a list of byte literals (Java casts, a C array, Swift's
    [UInt8], Go's []byte); a public key's bytes and a known-answer test vector as negatives."""
    r = c.r
    raw = T.rbytes(r, r.choice([16, 32]))
    form = r.choice(["java", "c", "swift", "go"])
    if form == "java":
        v = ", ".join(f"(byte) 0x{b:02x}" for b in raw)
        text = (f"package com.{F.words(r)['noun']}.crypto;\n\nfinal class KeyMaterial {{\n"
                f"    static final byte[] WRAP_KEY = new byte[] {{\n        {v}\n    }};\n}}\n")
        paths = ["src/main/java/com/⟨noun⟩/crypto/KeyMaterial.java"]
    elif form == "c":
        v = ", ".join(f"0x{b:02X}" for b in raw)
        text = f"#include <stdint.h>\n\n/* frame encryption key, shared by all units */\nconst uint8_t TELEMETRY_KEY[{len(raw)}] = {{\n    {v}\n}};\n"
        paths = ["firmware/main/crypto_keys.c"]
    elif form == "swift":
        v = ", ".join(str(b) for b in raw)
        text = f"enum Secrets {{\n    static let apiSigningKey: [UInt8] = [{v}]\n}}\n"
        paths = ["ios/⟨Pascal⟩/Config/Secrets.swift"]
    else:
        v = ", ".join(f"0x{b:02x}" for b in raw)
        text = f"package auth\n\nvar hmacSecret = []byte{{{v}}}\n"
        paths = ["internal/auth/keys.go"]
    c.emit(c.place(paths), text, [P("context", f"byte-array-{form}", v)])
    pub = ", ".join(f"0x{b:02X}" for b in T.rbytes(r, 32))
    text = f"/* the update server's public key: verifies firmware signatures */\nconst uint8_t UPDATE_PUBKEY[32] = {{\n    {pub}\n}};\n"
    c.emit(c.place(["firmware/main/update_key.c"], negative=True), text, [N("context", "byte-array-public", pub)])
    kat = ", ".join(f"0x{b:02x}" for b in T.rbytes(r, 16))
    text = f"// AES-128 known-answer test\nstatic const uint8_t kKey[16] = {{\n    {kat}\n}};\n"
    c.emit(c.place(["third_party/crypto/aes_test.cc"], negative=True), text, [N("context", "byte-array-test-vector", kat)])


def word_password(c):
    """Session 34: a password made of words, as people choose them (`HarborOrchid80`,
    `winter-apple-94`, `delta-river-signal-frost`), in the forms that hold them (Maven's
    <password>, a setter, PHP's define(), Laravel's env() fallback); a secret's name as the
    negative."""
    r = c.r
    shape = r.choice(["camel", "two", "four"])
    if shape == "camel":
        v = "".join(w.capitalize() for w in r.sample(WORDS32, 2)) + str(r.randint(10, 99))
    elif shape == "two":
        v = "-".join(r.sample(WORDS32, 2)) + f"-{r.randint(10, 99)}"
    else:
        v = "-".join(r.sample(WORDS32, 4))
    form = r.choice(["maven", "setter", "define", "laravel"])
    if form == "maven":
        text = f"<settings>\n  <servers>\n    <server>\n      <id>internal</id>\n      <username>deployer</username>\n      <password>{v}</password>\n    </server>\n  </servers>\n</settings>\n"
        paths = ["ci/settings.xml"]
    elif form == "setter":
        text = f"LdapContextSource cs = new LdapContextSource();\ncs.setUserDn(\"cn=svc,dc=corp\");\ncs.setPassword(\"{v}\");\n"
        paths = ["src/main/java/com/⟨noun⟩/config/LdapConfig.java"]
    elif form == "define":
        text = f"<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '{v}' );\n"
        paths = ["sites/⟨noun⟩/wp-config.php"]
    else:
        text = f"<?php\nreturn [\n    'carrier' => [\n        'user' => 'shop',\n        'password' => env('CARRIER_PASSWORD', '{v}'),\n    ],\n];\n"
        paths = ["config/services.php"]
    c.emit(c.place(paths), text, [P("context", f"word-password-{form}", v)])
    text = "grafana:\n  admin:\n    existingPasswordSecret: grafana-admin-creds\n"
    c.emit(c.place(["deploy/⟨env⟩/grafana-values.yaml"], negative=True), text,
           [N("context", "word-password-reference", "grafana-admin-creds")])


def command_password(c):
    """Session 34: a password a command takes, written where commands are kept (a crontab's
    full path to mysqldump, lftp -u user,password, PowerShell's -Password)."""
    r = c.r
    v = c.new(T.password, "")
    form = r.choice(["crontab", "lftp", "powershell"])
    if form == "crontab":
        text = f"# m h dom mon dow user command\n15 2 * * * backup /usr/bin/mysqldump -u backup -p{v} --all-databases | gzip > /srv/backup/all.sql.gz\n"
        paths = ["etc/crontab"]
    elif form == "lftp":
        text = f"#!/bin/sh\nset -e\nlftp -u export_sftp,{v} sftp://sftp.partner.example -e \"put /srv/export/stock.csv; bye\"\n"
        paths = ["bin/⟨noun⟩_upload.sh"]
    else:
        text = f"$server = 'sql01'\nInvoke-Sqlcmd -ServerInstance $server -Username sa -Password '{v}' -Query \"BACKUP DATABASE [Intranet] TO DISK = N'E:\\Backup\\intranet.bak'\"\n"
        paths = ["scripts/Backup-SQL.ps1"]
    c.emit(c.place(paths), text, [P("context", f"command-password-{form}", v)])


def app_secret(c):
    """Session 34: secrets in one application's or tool's own syntax (Devise's pepper, a
    Jenkins job's password parameter default, a Schema Registry user info, a GitHub runner's
    registration token, kaggle.json); a commented-out pepper and an encrypted Jenkins
    default as negatives."""
    r = c.r
    form = r.choice(["devise", "jenkins", "schema-registry", "runner", "kaggle"])
    if form == "devise":
        v = c.new(lambda rr: T.rs(rr, "0123456789abcdef", 128))
        text = f"Devise.setup do |config|\n  config.mailer_sender = 'noreply@example.com'\n  config.pepper = '{v}'\nend\n"
        paths = ["config/initializers/devise.rb"]
    elif form == "jenkins":
        v = c.new(T.password, "")
        text = ("<project>\n  <properties>\n    <hudson.model.ParametersDefinitionProperty>\n      <parameterDefinitions>\n"
                "        <hudson.model.PasswordParameterDefinition>\n          <name>ADMIN_PASSWORD</name>\n"
                f"          <defaultValue>{v}</defaultValue>\n        </hudson.model.PasswordParameterDefinition>\n"
                "      </parameterDefinitions>\n    </hudson.model.ParametersDefinitionProperty>\n  </properties>\n</project>\n")
        paths = ["jenkins/jobs/deploy-⟨env⟩/config.xml"]
    elif form == "schema-registry":
        key = T.rs(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16)
        v = c.new(lambda rr: key + ":" + T.rs(rr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 64))
        text = f"schema.registry.url=https://psrc-8kz20.eu-central-1.aws.confluent.cloud\nbasic.auth.credentials.source=USER_INFO\nbasic.auth.user.info={v}\n"
        paths = ["streams/config/schema-registry.properties"]
    elif form == "runner":
        v = c.new(lambda rr: "A" + T.rs(rr, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 28))
        text = f"#!/bin/sh\ncd /opt/actions-runner\n./config.sh --url https://github.com/⟨noun⟩-labs/pipelines --token {v} --labels self-hosted,linux --unattended\n"
        paths = ["ops/runners/register.sh"]
    else:
        v = c.new(lambda rr: T.rs(rr, "0123456789abcdef", 32))
        text = f'{{"username":"{F.words(r)["noun"]}labs","key":"{v}"}}\n'
        paths = ["dotfiles/⟨noun⟩/.kaggle/kaggle.json"]
    c.emit(c.place(paths), text, [P("context", f"app-{form}", v)])
    if r.random() < 0.5:
        u = T.rs(r, "0123456789abcdef", 128)
        text = f"Devise.setup do |config|\n  # config.pepper = '{u}'\n  config.stretches = 12\nend\n"
        c.emit(c.place(["config/initializers/devise.rb"], negative=True), text, [N("context", "app-devise-commented", u)])
    else:
        u = "{AQAAABAAAAAQ" + T.b64(T.rbytes(r, 24)) + "}"
        text = ("<hudson.model.PasswordParameterDefinition>\n  <name>ADMIN_PASSWORD</name>\n"
                f"  <defaultValue>{u}</defaultValue>\n</hudson.model.PasswordParameterDefinition>\n")
        c.emit(c.place(["jenkins/jobs/⟨noun⟩/config.xml"], negative=True), text, [N("context", "app-jenkins-encrypted", u)])


def nested_key(c):
    """Session 34: a key whose name is its block's (`"Jwt": { "Key": .. }`, Consul's
    `acl { tokens { agent = .. } }`, an ARM parameters file's `{"value": ..}`)."""
    r = c.r
    form = r.choice(["jwt", "consul", "arm"])
    if form == "jwt":
        v = c.new(lambda rr: T.rs(rr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 64))
        text = f'{{\n  "Jwt": {{\n    "Issuer": "https://auth.{F.words(r)["noun"]}.io",\n    "Key": "{v}"\n  }}\n}}\n'
        paths = ["src/⟨Pascal⟩.Api/appsettings.Production.json"]
    elif form == "consul":
        v = c.new(T.uuid4)
        text = f'datacenter = "eu1"\nacl {{\n  enabled = true\n  tokens {{\n    agent = "{v}"\n  }}\n}}\n'
        paths = ["consul/server.hcl"]
    else:
        v = c.new(T.password, "*!")
        text = f'{{\n  "parameters": {{\n    "sqlAdminPassword": {{"value": "{v}"}},\n    "location": {{"value": "westeurope"}}\n  }}\n}}\n'
        paths = ["deploy/bicep/main.parameters.json"]
    c.emit(c.place(paths), text, [P("context", f"nested-{form}", v)])

def url_percent_password(c):
    r = c.r
    w = F.words(r)
    pw = c.new(lambda rr: T.password(rr, "@#/:%!*?&+=", 14, 28))
    while not any(ch in pw for ch in "@#/:%"):
        pw = c.new(lambda rr: T.password(rr, "@#/:%!*?&+=", 14, 28))
    enc = urllib.parse.quote(pw, safe="")
    scheme = r.choice(["postgresql", "mysql", "mongodb", "amqps", "redis"])
    port = {"postgresql": 5432, "mysql": 3306, "mongodb": 27017, "amqps": 5671, "redis": 6379}[scheme]
    user = r.choice(F.USERS)
    url = f"{scheme}://{user}:{enc}@{w['db']}-{r.choice(['primary', 'main', 'db'])}.{w['domain']}:{port}/{w['db']}"
    item = Item(r.choice(["DATABASE_URL", "DB_URL", "BROKER_URL", "CACHE_URL"]), url,
                [P("encoded", "url-percent-encoded-password", pw, needle=url, encoded=enc)])
    c.queue(item)


def url_form_token(c):
    r = c.r
    w = F.words(r)
    lines, _ = F.log_lines(r, r.randint(6, 14), c.clock)
    tok = c.new(r.choice([lambda rr: T.github(rr, "ghp_"), T.glpat_legacy, T.slack_xoxb]))
    cb = f"https://app.{w['domain']}/oauth/callback?token={tok}&state={T.rs(r, T.HEX, 16)}"
    form = "username=" + urllib.parse.quote(f"{r.choice(F.FIRST)}@{w['domain']}") + "&redirect=" + urllib.parse.quote(cb, safe="")
    log_insert(r, lines, f"DEBUG http  POST /session/new content-type=application/x-www-form-urlencoded body={form}")
    marks = [P("encoded", "url-encoded-form-token", tok, needle=form)]
    if r.random() < 0.6:
        pw = c.new(T.password)
        form2 = f"grant_type=password&username={r.choice(F.USERS)}&password={urllib.parse.quote(pw, safe='')}&scope=read"
        log_insert(r, lines, f"DEBUG auth  token request body: {form2}")
        marks.append(P("encoded", "url-encoded-form-password", pw, needle=form2, encoded=urllib.parse.quote(pw, safe="")))
    c.emit(c.place(["logs/⟨svc⟩-⟨env⟩.log", "logs/http-debug.log", "var/log/⟨svc⟩.log"]), "\n".join(lines), marks)


def basic_auth_log(c):
    r = c.r
    lines, _ = F.log_lines(r, r.randint(6, 14), c.clock)
    user, pw = r.choice(F.USERS), c.new(T.password)
    b = T.b64(f"{user}:{pw}".encode())
    w = F.words(r)
    req = [f"> GET /api/v2/{w['noun']}s HTTP/1.1", f"> Host: partner.{w['domain']}", "> User-Agent: curl/8.5.0",
           f"> Authorization: Basic {b}", "> Accept: */*", ">", "< HTTP/1.1 200 OK"]
    at = r.randint(0, len(lines))
    lines[at:at] = req
    c.emit(c.place(["logs/curl-trace-⟨noun⟩.log", "debug/⟨svc⟩-request.txt", "logs/partner-sync.log"]), "\n".join(lines),
           [P("encoded", "http-basic-auth-base64", pw, needle=b, encoded=b)])


def url_oauth_params(c):
    r = c.r
    w = F.words(r)
    lines, _ = F.log_lines(r, r.randint(6, 12), c.clock)
    challenge = T.b64url(T.rbytes(r, 32))
    url = (f"https://login.{w['domain']}/authorize?response_type=code&client_id={w['noun']}-web"
           f"&redirect_uri={urllib.parse.quote('https://app.' + w['domain'] + '/callback', safe='')}"
           f"&state={T.rs(r, T.HEX, 32)}&code_challenge={challenge}&code_challenge_method=S256")
    log_insert(r, lines, f"INFO  http  302 Location: {url}")
    c.emit(c.place(["logs/auth-⟨env⟩.log", "logs/login-flow.log"], negative=True), "\n".join(lines),
           [N("encoded", "url-encoded-oauth-params", challenge, needle=url)])


def data_uri(c):
    r = c.r
    kind = r.choice(["css-png", "html-ico", "md-png", "js-gif", "css-ico"])
    w = F.words(r)
    if kind.endswith("png"):
        payload, mime = T.b64(T.png(r)), "image/png"
    elif kind.endswith("ico"):
        payload, mime = T.b64(T.ico(r)), "image/x-icon"
    else:
        payload, mime = T.b64(T.gif_pixel()), "image/gif"
    if payload in c.values:
        payload, mime = T.b64(T.png(r, 20 + len(c.values) % 30, 24)), "image/png"
    c.values.add(payload)
    uri = f"data:{mime};base64,{payload}"
    if kind.startswith("css"):
        text = (f".{w['noun']}-card {{\n  display: flex;\n  gap: 12px;\n  padding: 16px;\n}}\n\n.{w['noun']}-card .icon {{\n"
                f"  width: 16px;\n  height: 16px;\n  background-image: url(\"{uri}\");\n}}\n")
        paths = ["web/static/css/⟨noun⟩.css", "src/styles/⟨noun⟩.css"]
    elif kind.startswith("html"):
        text = (f"<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <title>{w['noun'].title()} admin</title>\n"
                f"  <link rel=\"icon\" href=\"{uri}\">\n  <link rel=\"stylesheet\" href=\"/static/app.css\">\n</head>\n<body>\n"
                f"  <div id=\"root\"></div>\n  <script src=\"/static/app.js\"></script>\n</body>\n</html>\n")
        paths = ["web/templates/base.html", "public/index.html"]
    elif kind.startswith("md"):
        text = F.markdown(r, f"{w['noun'].title()} dashboard", 2) + f"\n![status badge]({uri})\n"
        paths = ["docs/⟨noun⟩-dashboard.md", "docs/status.md"]
    else:
        text = f"export const TRANSPARENT_PIXEL =\n  '{uri}';\n\nexport function trackingPixel(src) {{\n  const img = new Image(1, 1);\n  img.src = src || TRANSPARENT_PIXEL;\n  return img;\n}}\n"
        paths = ["src/lib/pixel.js", "web/js/tracking.js"]
    c.emit(c.place(paths, negative=True), text, [N("encoded", "data-uri-image", payload)])


def package_lock(c):
    r = c.r
    pkgs = r.sample(["express", "axios", "lodash", "debug", "ms", "cookie", "qs", "body-parser", "zod", "dayjs",
                     "uuid", "semver", "chalk", "commander", "yaml", "ws", "jsonwebtoken", "pino"], r.randint(5, 8))
    packages = {"": {"name": r.choice(F.PROJECTS), "version": "1.0.0", "dependencies": {p: "^1.0.0" for p in pkgs}}}
    marks = []
    for p in pkgs:
        ver = f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 15)}"
        integ = "sha512-" + T.b64(T.rbytes(r, 64))
        packages[f"node_modules/{p}"] = {"version": ver, "resolved": f"https://registry.npmjs.org/{p}/-/{p}-{ver}.tgz",
                                         "integrity": integ, "license": "MIT"}
        marks.append(N("encoded", "npm-integrity-sha512", integ))
    lock = {"name": packages[""]["name"], "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    c.emit(c.place(["package-lock.json", "web/package-lock.json"], negative=True), json.dumps(lock, indent=2), marks)


def sri_html(c):
    r = c.r
    libs = [("bootstrap", "5.3.3", "css/bootstrap.min.css"), ("jquery", "3.7.1", "jquery.min.js"), ("htmx.org", "1.9.12", "htmx.min.js")]
    lines = ["<!doctype html>", "<html>", "<head>", '  <meta charset="utf-8">']
    marks = []
    for name, ver, f in r.sample(libs, 2):
        h = "sha384-" + T.b64(T.rbytes(r, 48))
        tag = "link" if f.endswith("css") else "script"
        if tag == "link":
            lines.append(f'  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/{name}@{ver}/dist/{f}" integrity="{h}" crossorigin="anonymous">')
        else:
            lines.append(f'  <script src="https://cdn.jsdelivr.net/npm/{name}@{ver}/dist/{f}" integrity="{h}" crossorigin="anonymous"></script>')
        marks.append(N("encoded", "sri-hash", h))
    lines += ["</head>", "<body>", '  <main class="container">{% block content %}{% endblock %}</main>', "</body>", "</html>"]
    c.emit(c.place(["templates/layout.html", "web/templates/⟨noun⟩/base.html"], negative=True), "\n".join(lines), marks)


# ====================================================================== class: context

PW_NAMES = ["DB_PASSWORD", "DATABASE_PASSWORD", "SMTP_PASSWORD", "REDIS_PASSWORD", "ADMIN_PASSWORD",
            "LDAP_BIND_PASSWORD", "KEYSTORE_PASSWORD", "SFTP_PASSWORD", "MAIL_PASSWORD", "RABBITMQ_PASSWORD"]
SECRET_NAMES = ["API_KEY", "API_SECRET", "CLIENT_SECRET", "WEBHOOK_SECRET", "JWT_SECRET", "SECRET_KEY",
                "SIGNING_SECRET", "ENCRYPTION_KEY", "SESSION_SECRET", "HMAC_KEY", "PARTNER_API_TOKEN", "AUTH_TOKEN"]


def ctx_value(c, name, symbols=T.PW_SYMBOLS):
    if "PASSWORD" in name or name.endswith("_PASS"):
        return c.new(T.password, symbols)
    return c.new(T.api_secret)


def ctx_generic(c, syntax):
    r = c.r
    name = r.choice(PW_NAMES + SECRET_NAMES)
    syms = "!*+-.=?@_~^" if syntax in ("ini", "properties", "dotenv", "shell") else T.PW_SYMBOLS
    v = ctx_value(c, name, syms)
    items = [Item(name, v, [P("context", "{syntax}-assignment", v)])]
    # now and then another queued item shares the file
    for other in list(c.pending):
        if len(items) >= 3 or r.random() < 0.6:
            break
        if syntax in (other.syntaxes or GENERIC) and compatible(items, other):
            items.append(other)
            c.pending.remove(other)
    c.kv_file(syntax, items)


def pypirc(c):
    r = c.r
    pw = c.new(T.password)
    host = f"pkgs.{r.choice(F.DOMAINS)}"
    text = (f"[distutils]\nindex-servers =\n    pypi\n    internal\n\n[pypi]\nusername = __token__\n\n[internal]\n"
            f"repository = https://{host}/repository/pypi-internal/\nusername = {r.choice(F.USERS)}\npassword = {pw}\n")
    c.emit(c.place(["ci/.pypirc", ".pypirc", "release/pypirc"]), text, [P("context", "pypirc", pw)])


def netrc(c):
    r = c.r
    pw = c.new(T.password, "!*+-.=?@_~^")
    w = F.words(r)
    text = f"machine git.{w['domain']}\n  login {r.choice(F.USERS)}\n  password {pw}\n\nmachine artifacts.{w['domain']}\n  login ci-reader\n"
    if r.random() < 0.5:
        text = f"machine api.{w['domain']} login {r.choice(F.USERS)} password {pw}\n"
    c.emit(c.place(["ci/.netrc", ".netrc", "docker/netrc"]), text, [P("context", "netrc", pw)])


def java_properties(c):
    r = c.r
    pw = c.new(T.password, "!*+-.=?@_~^")
    w = F.words(r)
    key = r.choice(["spring.datasource.password", "spring.mail.password", "app.ldap.bind-password", "spring.rabbitmq.password"])
    lines = ["# Datasource", f"spring.datasource.url=jdbc:postgresql://{w['db']}-db.internal:5432/{w['db']}",
             f"spring.datasource.username={r.choice(F.USERS)}", "spring.jpa.hibernate.ddl-auto=validate",
             "spring.jpa.open-in-view=false", f"server.port={w['port']}", "logging.level.org.springframework=INFO",
             f"spring.mail.host=smtp.{w['domain']}", "spring.mail.port=587"]
    lines.insert(r.randint(2, len(lines)), f"{key}={pw}")
    c.emit(c.place(["src/main/resources/application-⟨env⟩.properties", "src/main/resources/application.properties"]),
           "\n".join(lines), [P("context", "java-properties", pw)])


def gradle_properties(c):
    r = c.r
    pw = c.new(T.password, "!*+-.=?@_~^")
    key = r.choice(["signing.password", "ossrhPassword", "mavenCentralPassword", "artifactoryPassword", "RELEASE_STORE_PASSWORD"])
    lines = ["org.gradle.jvmargs=-Xmx2048m -Dfile.encoding=UTF-8", "org.gradle.parallel=true", "org.gradle.caching=true",
             "android.useAndroidX=true", "kotlin.code.style=official", f"signing.keyId={T.rs(r, T.HEX, 8).upper()}",
             f"{key}={pw}", f"VERSION_NAME={r.randint(1, 5)}.{r.randint(0, 20)}.{r.randint(0, 9)}"]
    c.emit(c.place(["gradle.properties", "android/gradle.properties"]), "\n".join(lines), [P("context", "gradle-properties", pw)])


def web_config(c):
    r = c.r
    pw = c.new(T.password, "!*+-.=?@_~^#")
    key = r.choice(["SmtpPassword", "ServiceAccountPassword", "LdapBindPassword", "FtpPassword", "ReportServerPassword"])
    w = F.words(r)
    text = (f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n'
            f'    <add key="Environment" value="Production" />\n    <add key="SmtpHost" value="smtp.{w["domain"]}" />\n'
            f'    <add key="{key}" value="{pw}" />\n    <add key="MaxUploadMb" value="25" />\n  </appSettings>\n'
            f'  <system.web>\n    <compilation debug="false" targetFramework="4.8" />\n    <httpRuntime targetFramework="4.8" maxRequestLength="25600" />\n'
            f'    <customErrors mode="RemoteOnly" />\n  </system.web>\n</configuration>\n')
    c.emit(c.place(["src/⟨Pascal⟩.Web/Web.config", "Web.config", "src/⟨Pascal⟩/App.config"]), text, [P("context", "web-config", pw)])


def appsettings(c):
    r = c.r
    w = F.words(r)
    marks = []
    cfg = {"Logging": {"LogLevel": {"Default": "Information", "Microsoft.AspNetCore": "Warning"}}, "AllowedHosts": "*"}
    if r.random() < 0.5:
        pw = c.new(T.password)
        cfg["Smtp"] = {"Host": f"smtp.{w['domain']}", "Port": 587, "User": f"noreply@{w['domain']}", "Password": pw}
    else:
        pw = c.new(T.api_secret)
        cfg["Jwt"] = {"Issuer": f"https://auth.{w['domain']}", "Audience": w["noun"] + "-api", "Secret": pw, "ExpiryMinutes": 60}
    marks.append(P("context", "appsettings-json", pw))
    cfg["Features"] = {"NewCheckout": r.random() < 0.5}
    c.emit(c.place(["src/⟨Pascal⟩.Api/appsettings.Production.json", "appsettings.json", "src/⟨Pascal⟩/appsettings.json"]),
           json.dumps(cfg, indent=2), marks)


def terraform_var(c):
    r = c.r
    name = r.choice(["db_password", "master_password", "admin_password", "api_secret", "redis_auth_token"])
    v = c.new(T.password, "!*+-.=?_~^") if "password" in name else c.new(T.api_secret)
    w = F.words(r)
    text = (f'variable "region" {{\n  type    = string\n  default = "{w["region"]}"\n}}\n\n'
            f'variable "{name}" {{\n  description = "{name.replace("_", " ").capitalize()} for the {w["db"]} stack"\n'
            f'  type        = string\n  sensitive   = true\n  default     = "{v}"\n}}\n\n'
            f'variable "instance_class" {{\n  type    = string\n  default = "db.t4g.medium"\n}}\n')
    c.emit(c.place(["infra/terraform/variables.tf", "terraform/⟨env⟩/variables.tf", "infra/modules/⟨db⟩/variables.tf"]),
           text, [P("context", "terraform-variable-default", v)])


def k8s_env(c):
    r = c.r
    name = r.choice(["DB_PASSWORD", "SPRING_DATASOURCE_PASSWORD", "API_SECRET", "JWT_SECRET", "SMTP_PASSWORD"])
    v = ctx_value(c, name)
    block = ["        - name: LOG_LEVEL", "          value: info", f"        - name: {name}", f"          value: {yq(v)}",
             "        - name: PORT", '          value: "8080"']
    svc = r.choice(F.NOUNS) + "-api"
    c.emit(c.place(["deploy/k8s/⟨svc⟩-deployment.yaml", "k8s/⟨env⟩/deployment.yaml"]),
           deployment_yaml(r, svc, r.choice(["prod", "apps"]), env_block=block), [P("context", "k8s-env-value", v)])


def compose(c, form):
    r = c.r
    name = r.choice(["POSTGRES_PASSWORD", "MYSQL_ROOT_PASSWORD", "RABBITMQ_DEFAULT_PASS", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD"])
    v = c.new(T.password, "!*+-.=?@_~^")
    img = {"POSTGRES_PASSWORD": "postgres:16", "MYSQL_ROOT_PASSWORD": "mysql:8.4", "RABBITMQ_DEFAULT_PASS": "rabbitmq:3-management",
           "REDIS_PASSWORD": "bitnami/redis:7.2", "MINIO_ROOT_PASSWORD": "minio/minio:latest"}[name]
    if form == "list":
        env = ["    environment:", "      - TZ=UTC", f"      - {name}={v}"]
    elif random.Random(v).random() < 0.4:
        # A YAML block scalar, the value on the line after `|` or `>-` (drawn apart from the
        # corpus's stream, which stays as it was before this variant).
        form = "block"
        env = ["    environment:", "      TZ: UTC", f"      {name}: {random.Random(v).choice(['|', '>-', '|-'])}", f"        {v}"]
    else:
        env = ["    environment:", "      TZ: UTC", f"      {name}: {yq(v)}"]
    text = "\n".join(["services:", "  app:", "    build: .", "    ports:", '      - "8080:8080"', "    depends_on:", "      - store",
                      "  store:", f"    image: {img}", "    restart: unless-stopped"] + env + ["    volumes:", "      - store-data:/var/lib/data",
                                                                                             "", "volumes:", "  store-data:"])
    c.emit(c.place(["docker-compose.yml", "docker-compose.prod.yml", "deploy/compose.yaml"]), text,
           [P("context", f"compose-env-{form}", v)])


def dockerfile(c, kind):
    r = c.r
    name = r.choice(["NPM_TOKEN", "API_KEY", "DB_PASSWORD", "SENTRY_AUTH_TOKEN", "LICENSE_KEY"])
    v = ctx_value(c, name, "!*+-.=?@_~^")
    base = r.choice(["node:20-alpine", "python:3.12-slim", "eclipse-temurin:21-jre"])
    lines = [f"FROM {base}", "WORKDIR /app", "COPY . .", f"{kind} {name}={v}", "RUN ./scripts/build.sh",
             "EXPOSE 8080", 'CMD ["./scripts/start.sh"]']
    c.emit(c.place(["Dockerfile", "docker/⟨svc⟩.Dockerfile", "Dockerfile.prod"]), "\n".join(lines),
           [P("context", f"dockerfile-{kind.lower()}", v)])


def cmd_set(c):
    r = c.r
    name = r.choice(["DB_PASSWORD", "SQL_PASSWORD", "API_KEY", "SERVICE_PASSWORD"])
    v = ctx_value(c, name, "*+-.=?@_~#")
    w = F.words(r)
    text = (f"@echo off\r\nsetlocal\r\nset APP_ENV=production\r\nset DB_SERVER={w['db']}-sql01\r\nset {name}={v}\r\n"
            f"echo Running nightly {w['noun']} export...\r\npython -m tools.export --since yesterday\r\nif errorlevel 1 exit /b 1\r\nendlocal\r\n")
    c.emit(c.place(["scripts/nightly-⟨noun⟩.cmd", "tools/run-export.bat", "ops/windows/deploy.cmd"]), text, [P("context", "windows-cmd-set", v)])


def powershell(c):
    r = c.r
    name = r.choice(["$password", "$dbPassword", "$apiKey", "$clientSecret", "$Password"])
    v = c.new(T.password, "!*+-.=?@_~#") if "assword" in name else c.new(T.api_secret)
    w = F.words(r)
    text = (f"param([string]$Environment = 'Production')\n\n$ErrorActionPreference = 'Stop'\n$server = '{w['db']}-sql01.corp.{w['domain']}'\n"
            f"{name} = \"{v}\"\n$cred = New-Object System.Management.Automation.PSCredential('svc_deploy', (ConvertTo-SecureString {name} -AsPlainText -Force))\n"
            f"Invoke-Command -ComputerName $server -Credential $cred -ScriptBlock {{ Restart-Service {w['noun']}Sync }}\n")
    c.emit(c.place(["scripts/Deploy-⟨Noun⟩.ps1", "ops/restart-services.ps1"]), text, [P("context", "powershell-assign", v)])


def ps1_utf16(c):
    """A PowerShell script as Windows PowerShell 5 writes it (`>`, `Out-File`): UTF-16LE with a
    byte-order mark, where every ASCII character sits beside a NUL."""
    r = c.r
    token = c.new(lambda rr: T.github(rr, "ghp_"))
    pw = c.new(T.password, "!*+-.=?@_~#")
    w = F.words(r)
    text = (f"# Generated by Export-{w['noun'].capitalize()}Settings on {c.ts()}\r\n"
            f"$env:GITHUB_TOKEN = \"{token}\"\r\n"
            f"$server = '{w['db']}-sql01.corp.{w['domain']}'\r\n"
            f"$secure = ConvertTo-SecureString \"{pw}\" -AsPlainText -Force\r\n"
            f"$cred = New-Object System.Management.Automation.PSCredential('svc_{w['noun']}', $secure)\r\n")
    path = c.place(["scripts/Set-⟨Noun⟩Env.ps1", "ops/⟨noun⟩-settings.ps1"])
    c.emit(path, text, [P("encoded", "utf16-ps1-token", token), P("encoded", "utf16-ps1-securestring", pw)])
    c.utf16.add(path)


def reg_utf16(c, negative=False):
    """A registry export (regedit writes UTF-16LE with a byte-order mark)."""
    r = c.r
    w = F.words(r)
    v = "<your-slack-token>" if negative else c.new(T.slack_xoxb)
    text = (f"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\{w['noun2'].capitalize()}\\Notifier]\r\n"
            f"\"Channel\"=\"#{w['noun']}-alerts\"\r\n\"SlackToken\"=\"{v}\"\r\n\"Enabled\"=dword:00000001\r\n")
    mark = N("encoded", "utf16-reg-placeholder", v) if negative else P("encoded", "utf16-reg-token", v)
    path = c.place(["tools/⟨noun⟩-notifier.reg", "setup/⟨noun⟩-settings.reg"], negative=negative)
    c.emit(path, text, [mark])
    c.utf16.add(path)


def http_file(c):
    r = c.r
    var = r.choice(["secret", "apiKey", "token", "clientSecret"])
    v = c.new(T.api_secret)
    w = F.words(r)
    text = (f"@baseUrl = https://api.{w['domain']}/v2\n@{var} = {v}\n\n### List {w['noun']}s\nGET {{{{baseUrl}}}}/{w['noun']}s?limit=20\n"
            f"Authorization: Bearer {{{{{var}}}}}\nAccept: application/json\n\n### Create {w['noun']}\nPOST {{{{baseUrl}}}}/{w['noun']}s\n"
            f"Authorization: Bearer {{{{{var}}}}}\nContent-Type: application/json\n\n{{\"name\": \"nightly\"}}\n")
    c.emit(c.place(["requests/⟨noun⟩s.http", "api.http", "docs/requests/⟨verb⟩.http"]), text, [P("context", "http-file-variable", v)])


def log_bearer(c):
    r = c.r
    lines, _ = F.log_lines(r, r.randint(8, 20), c.clock)
    v = c.new(T.api_secret)
    w = F.words(r)
    style = r.choice(["dict", "curl", "plain"])
    if style == "dict":
        l = f"DEBUG urllib3  send: headers={{'User-Agent': 'python-requests/2.32.3', 'Accept': '*/*', 'Authorization': 'Bearer {v}'}}"
    elif style == "curl":
        l = f"DEBUG retry  replay: curl -sS -H 'Authorization: Bearer {v}' https://api.{w['domain']}/v1/{w['noun']}s"
    else:
        l = f"TRACE gateway  upstream request headers: Authorization: Bearer {v}; X-Request-Id: {T.rs(r, T.HEX, 12)}"
    log_insert(r, lines, l)
    c.emit(c.place(["logs/⟨svc⟩.log", "logs/⟨svc⟩-⟨env⟩.log", "var/log/gateway.log"]), "\n".join(lines), [P("context", "log-bearer-header", v)])


# context negatives ------------------------------------------------------------

def ctx_placeholders(c):
    r = c.r
    gen = [("changeme", None), ("<your-token>", ("dotenv", "yaml", "toml", "ini", "json", "shell")),
           ("xxxxxxxxxxxxxxxxxxxxxxxx", None), ("${DB_PASSWORD}", ("yaml", "properties", "dotenv", "json", "toml")),
           ("%(password)s", ("ini", "python")), ("sm://" + r.choice(F.PROJECTS) + "/db-password", ("dotenv", "yaml", "gha")),
           ("process.env.API_KEY", ("javascript", "typescript"))]
    for value, syn in gen:
        for _ in range(c.n(2)):
            name = r.choice(PW_NAMES + SECRET_NAMES)
            raw = value.startswith("process.env")
            c.queue(Item(name, value, [N("context", "placeholder", value)], syn, raw=raw))


def helm_template(c):
    r = c.r
    svc = r.choice(F.NOUNS) + "-api"
    text = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ include \"app.fullname\" . }}\n  labels:\n"
            "    {{- include \"app.labels\" . | nindent 4 }}\ntype: Opaque\nstringData:\n"
            "  DB_PASSWORD: {{ .Values.password | quote }}\n  DB_USER: {{ .Values.db.user | quote }}\n")
    c.emit(c.place([f"charts/{svc}/templates/secret.yaml", "helm/⟨svc⟩/templates/secret.yaml"], negative=True), text,
           [N("context", "placeholder", "{{ .Values.password | quote }}")])


def gha_secret_ref(c):
    r = c.r
    text = ("name: release\n\non:\n  push:\n    tags: ['v*']\n\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: actions/checkout@v4\n      - run: npm ci && npm run build\n      - run: npm publish\n        env:\n"
            "          NODE_AUTH_TOKEN: ${{ secrets.TOKEN }}\n")
    c.emit(c.place([".github/workflows/release.yml", ".github/workflows/publish.yml"], negative=True), text,
           [N("context", "placeholder", "${{ secrets.TOKEN }}")])


def gitlab_ci(c):
    text = ("stages: [build, publish]\n\nbuild:\n  stage: build\n  image: python:3.12\n  script:\n    - pip install build\n"
            "    - python -m build\n  artifacts:\n    paths: [dist/]\n\npublish:\n  stage: publish\n  image: python:3.12\n  script:\n"
            "    - pip install twine\n    - TWINE_PASSWORD=$CI_JOB_TOKEN TWINE_USERNAME=gitlab-ci-token python -m twine upload "
            "--repository-url ${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/pypi dist/*\n")
    c.emit(c.place([".gitlab-ci.yml"], negative=True), text, [N("context", "placeholder", "$CI_JOB_TOKEN")])


def serverless_ssm(c):
    r = c.r
    text = (f"service: {r.choice(F.PROJECTS)}\n\nprovider:\n  name: aws\n  runtime: nodejs20.x\n  region: {r.choice(F.REGIONS)}\n"
            "  environment:\n    DB_PASSWORD: ${ssm:/prod/db/password}\n    STAGE: ${sls:stage}\n\nfunctions:\n  api:\n"
            "    handler: src/handler.main\n    events:\n      - httpApi: '*'\n")
    c.emit(c.place(["serverless.yml"], negative=True), text, [N("context", "placeholder", "ssm:/prod/db/password")])


def ecs_taskdef(c):
    r = c.r
    acct = T.rs(r, string.digits, 12)
    arn = f"arn:aws:secretsmanager:{r.choice(F.REGIONS)}:{acct}:secret:prod/db-password-{T.rs(r, T.ALNUM, 6)}"
    td = {"family": r.choice(F.PROJECTS), "networkMode": "awsvpc", "cpu": "512", "memory": "1024",
          "containerDefinitions": [{"name": "app", "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/app:latest",
                                    "portMappings": [{"containerPort": 8080}],
                                    "environment": [{"name": "APP_ENV", "value": "production"}],
                                    "secrets": [{"name": "DB_PASSWORD", "valueFrom": arn}]}]}
    c.emit(c.place(["deploy/ecs/task-definition.json", "infra/ecs/taskdef.json"], negative=True), json.dumps(td, indent=2),
           [N("context", "placeholder", arn)])


def ctx_hashes(c):
    r = c.r
    # bcrypt hashes in seed data
    for _ in range(c.n(3)):
        h = "$2b$12$" + T.rs(r, T.ALNUM + "./", 53)
        c.queue(Item(r.choice(["ADMIN_PASSWORD_HASH", "PASSWORD_HASH", "BOOTSTRAP_PASSWORD_BCRYPT"]), h,
                     [N("context", "bcrypt-hash", h)], ("yaml", "json", "dotenv", "toml")))
    for _ in range(c.n(3)):
        h = T.rs(r, T.HEX, 64)
        c.queue(Item(r.choice(["ARTIFACT_SHA256", "CHECKSUM", "NODE_SHA256", "BINARY_SHA256"]), h, [N("context", "sha256-hex", h)]))
    for _ in range(c.n(3)):
        h = T.rs(r, T.HEX, 40)
        c.queue(Item(r.choice(["GIT_SHA", "BUILD_COMMIT", "UPSTREAM_REV"]), h, [N("context", "git-sha", h)]))
    for _ in range(c.n(4)):
        u = T.uuid4(r)
        c.queue(Item(r.choice(["AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "WORKSPACE_ID", "ORG_ID", "AZURE_CLIENT_ID"]), u,
                     [N("context", "uuid-id", u)]))


def docs_weak_passwords(c):
    r = c.r
    for _ in range(c.n(4)):
        user, pw = r.choice([("admin", "admin"), ("admin", "password123"), ("root", "secret"), ("demo", "demo1234"),
                             ("guest", "welcome1"), ("airflow", "airflow")])
        w = F.words(r)
        text = F.markdown(r, f"{w['noun'].title()} admin console", 2) + (
            f"\n## First login\n\nThe local stack seeds one account. Sign in at http://localhost:{w['port']}/admin with\n"
            f"username `{user}` and password `{pw}`, then change it under *Settings → Security*.\n")
        c.emit(c.place(["docs/getting-started.md", "README.md", "docs/local-setup.md"], negative=True), text,
               [N("context", "weak-doc-password", pw, needle=f"password `{pw}`")])


# ====================================================================== class: connstr

def conn_password(c):
    return c.new(T.password, "-._~!*", 14, 30)


def host(r, kind):
    w = F.words(r)
    if kind == "rds":
        return f"{w['db']}-{r.choice(['prod', 'primary'])}.{T.rs(r, string.ascii_lowercase + string.digits, 12)}.{w['region']}.rds.amazonaws.com"
    if kind == "k8s":
        return f"{w['db']}-postgresql.{r.choice(['prod', 'data'])}.svc.cluster.local"
    return f"{w['db']}-db{r.randint(1, 3)}.internal.{w['domain']}"


def conn_uris(c):
    r = c.r
    user = lambda: r.choice(F.USERS)  # noqa: E731
    db = lambda: r.choice(F.DBS)  # noqa: E731
    specs = []
    for _ in range(c.n(5)):
        pw = conn_password(c)
        specs.append(("postgres-uri", pw, f"{r.choice(['postgres', 'postgresql'])}://{user()}:{pw}@{host(r, r.choice(['rds', 'k8s', 'int']))}:5432/{db()}"
                      + r.choice(["", "?sslmode=require", "?sslmode=verify-full&application_name=api"]), "DATABASE_URL"))
    for _ in range(c.n(2)):
        pw = conn_password(c)
        specs.append(("sqlalchemy-uri", pw, f"{r.choice(['postgresql+psycopg2', 'mysql+pymysql', 'postgresql+asyncpg'])}://{user()}:{pw}@{host(r, 'int')}/{db()}", "SQLALCHEMY_DATABASE_URI"))
    for _ in range(c.n(3)):
        pw = conn_password(c)
        specs.append(("mysql-uri", pw, f"mysql://{user()}:{pw}@{host(r, r.choice(['rds', 'int']))}:3306/{db()}", "MYSQL_URL"))
    for _ in range(c.n(2)):
        pw = conn_password(c)
        specs.append(("mongodb-uri", pw, f"mongodb://{user()}:{pw}@{host(r, 'int')}:27017/{db()}?authSource=admin", "MONGO_URI"))
    for _ in range(c.n(2)):
        pw = conn_password(c)
        cl = f"cluster{r.randint(0, 3)}.{T.rs(r, string.ascii_lowercase + string.digits, 5)}.mongodb.net"
        specs.append(("mongodb-srv", pw, f"mongodb+srv://{user()}:{pw}@{cl}/{db()}?retryWrites=true&w=majority", "MONGODB_URI"))
    for _ in range(c.n(2)):
        pw = conn_password(c)
        d = r.choice(F.DOMAINS)
        hosts = ",".join(f"mongo-{i}.{d}:27017" for i in range(r.choice([2, 3])))
        specs.append(("mongodb-multihost", pw, f"mongodb://{user()}:{pw}@{hosts}/{db()}?replicaSet=rs0&authSource=admin&readPreference=secondaryPreferred", "MONGO_URL"))
    for _ in range(c.n(2)):
        pw = conn_password(c)
        specs.append(("amqp-uri", pw, f"{r.choice(['amqp', 'amqps'])}://{user()}:{pw}@rabbitmq.{r.choice(F.DOMAINS)}:{r.choice([5672, 5671])}/{r.choice(['%2F', 'orders', 'prod'])}", "BROKER_URL"))
    for _ in range(c.n(3)):
        pw = conn_password(c)
        u = r.choice(["", "default", user()])
        specs.append(("redis-uri", pw, f"{r.choice(['redis', 'rediss'])}://{u}:{pw}@{r.choice(['cache', 'redis'])}.{r.choice(F.DOMAINS)}:6379/{r.randint(0, 3)}", "REDIS_URL"))
    for _ in range(c.n(1)):
        pw = conn_password(c)
        specs.append(("smtp-uri", pw, f"smtps://{r.choice(['noreply', 'alerts'])}%40{r.choice(F.DOMAINS)}:{pw}@smtp.{r.choice(F.DOMAINS)}:465", "EMAIL_URL"))
    for _ in range(c.n(2)):
        pw = c.new(T.password, "!*+-.?_~^", 14, 30)
        h = host(r, "int")
        specs.append(("jdbc-postgres", pw, f"jdbc:postgresql://{h}:5432/{db()}?user={user()}&password={pw}&ssl=true", "JDBC_URL"))
    for _ in range(c.n(2)):
        pw = c.new(T.password, "!*+-.?_~^@", 14, 30)
        specs.append(("jdbc-sqlserver", pw, f"jdbc:sqlserver://{r.choice(F.DBS)}-sql.{r.choice(F.DOMAINS)}:1433;databaseName={db()};user={user()};password={pw};encrypt=true;trustServerCertificate=false", "JDBC_URL"))
    for _ in range(c.n(1)):
        pw = c.new(T.password, "!*+-.?_~^", 14, 30)
        specs.append(("jdbc-mysql", pw, f"jdbc:mysql://{host(r, 'rds')}:3306/{db()}?user={user()}&password={pw}&useSSL=true", "DATASOURCE_URL"))
    for _ in range(c.n(2)):
        pw = c.new(T.password, "!*+-.?_~^", 14, 30)
        cl = f"{r.choice(F.DBS)}-{r.choice(['dw', 'warehouse'])}.{T.rs(r, string.ascii_lowercase + string.digits, 12)}.{r.choice(F.REGIONS)}.redshift.amazonaws.com"
        specs.append(("redshift-jdbc", pw, f"jdbc:redshift://{cl}:5439/{r.choice(['dev', 'analytics', 'prod'])}?user={user()}&password={pw}&ssl=true", "REDSHIFT_URL"))
    for _ in range(c.n(5)):
        pw = c.new(T.password, "!*+-._~^@", 14, 30)
        kind = r.choice(["sqlclient", "odbc", "npgsql", "oracle"])
        if kind == "sqlclient":
            s = (f"Server=tcp:{r.choice(F.DBS)}-sql.database.windows.net,1433;Initial Catalog={db()};Persist Security Info=False;"
                 f"User ID={user()};Password={pw};MultipleActiveResultSets=False;Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;")
        elif kind == "odbc":
            s = f"Driver={{ODBC Driver 18 for SQL Server}};Server={host(r, 'int')};Database={db()};Uid={user()};Pwd={pw};Encrypt=yes;"
        elif kind == "npgsql":
            s = f"Host={host(r, 'int')};Port=5432;Database={db()};Username={user()};Password={pw};SSL Mode=Require"
        else:
            s = f"Data Source={host(r, 'int')}:1521/{db().upper()}PDB;User Id={user()};Password={pw};"
        specs.append((f"dotnet-{kind}", pw, s, "ConnectionStrings__Default"))
    for _ in range(c.n(3)):
        k = c.new(T.azure_sas_key)
        ns = f"{r.choice(F.NOUNS)}-{r.choice(['prod', 'events', 'bus'])}"
        s = f"Endpoint=sb://{ns}.servicebus.windows.net/;SharedAccessKeyName={r.choice(['RootManageSharedAccessKey', 'send-only', 'listen'])};SharedAccessKey={k}"
        if r.random() < 0.4:
            s += f";EntityPath={r.choice(F.NOUNS)}-events"
        specs.append(("azure-servicebus", k, s, "SERVICEBUS_CONNECTION"))
    for _ in range(c.n(2)):
        k = c.new(T.azure_sas_key)
        s = f"Endpoint=https://{r.choice(F.PROJECTS)}-cfg.azconfig.io;Id={T.rs(r, T.ALNUM, 4)}-l{r.randint(0, 9)}-s0:{T.rs(r, T.ALNUM, 20)};Secret={k}"
        specs.append(("azure-appconfig", k, s, "APPCONFIG_CONNECTION_STRING"))
    for _ in range(c.n(2)):
        k = c.new(T.azure_storage_key)
        s = f"DefaultEndpointsProtocol=https;AccountName={r.choice(['nw', 'ct', 'fb'])}{r.choice(F.DBS)}{r.randint(10, 99)};AccountKey={k};EndpointSuffix=core.windows.net"
        specs.append(("azure-storage", k, s, "AZURE_STORAGE_CONNECTION_STRING"))
    for fmt, pw, s, name in specs:
        place = r.random()
        if place < 0.55:
            c.queue(Item(name, s, [P("connstr", fmt, pw, needle=s)], ("dotenv", "yaml", "json", "python", "typescript", "go", "toml", "properties", "shell", "java", "csharp")))
        else:
            conn_specific(c, fmt, pw, s, name, POS)


def conn_specific(c, fmt, pw, s, name, kind):
    """Connection strings in their native homes: appsettings.json, Spring YAML, docker-compose, k8s ConfigMap."""
    r = c.r
    mk = P if kind == POS else N
    mark = mk("connstr", fmt, pw, needle=s)
    choice = r.choice(["appsettings", "spring", "compose", "configmap"])
    if choice == "appsettings":
        cfg = {"ConnectionStrings": {r.choice(["Default", "Primary", "Reporting"]): s},
               "Logging": {"LogLevel": {"Default": "Information"}}, "AllowedHosts": "*"}
        path = c.place(["src/⟨Pascal⟩.Api/appsettings.⟨env⟩.json", "appsettings.Production.json"], negative=kind == NEG)
        text = json.dumps(cfg, indent=2)
        if json.dumps(s)[1:-1] != s:
            mark.needle = json.dumps(s)[1:-1]
    elif choice == "spring":
        text = (f"spring:\n  application:\n    name: {r.choice(F.PROJECTS)}\n  datasource:\n    url: {yq(s)}\n"
                f"    hikari:\n      maximum-pool-size: 10\nserver:\n  port: 8080\n")
        path = c.place(["src/main/resources/application-⟨env⟩.yml", "src/main/resources/application.yml"], negative=kind == NEG)
    elif choice == "compose":
        text = (f"services:\n  api:\n    image: ghcr.io/{r.choice(['northwind', 'contoso'])}/{r.choice(F.PROJECTS)}:latest\n"
                f"    environment:\n      - {name.upper().replace('__', '_')}={s}\n      - LOG_LEVEL=info\n    ports:\n      - \"8080:8080\"\n")
        path = c.place(["docker-compose.yml", "deploy/docker-compose.⟨env⟩.yml"], negative=kind == NEG)
    else:
        text = (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {r.choice(F.NOUNS)}-config\n  namespace: {r.choice(['prod', 'apps'])}\n"
                f"data:\n  LOG_LEVEL: info\n  {name.upper().replace('__', '_')}: {yq(s)}\n")
        path = c.place(["deploy/k8s/configmap.yaml", "k8s/⟨env⟩/⟨svc⟩-config.yaml"], negative=kind == NEG)
        if yq(s)[1:-1] != s:
            mark.needle = yq(s)[1:-1]
    c.emit(path, text, [mark])


def conn_negatives(c):
    r = c.r
    specs = [
        ("local-dev", "postgres", "postgres://postgres:postgres@localhost:5432/app"),
        ("local-dev", "root", "mysql://root:root@127.0.0.1:3306/app_development"),
        ("local-dev", "guest", "amqp://guest:guest@localhost:5672//"),
        ("local-dev", "admin", "mongodb://admin:admin@localhost:27017/app?authSource=admin"),
        ("local-dev", "redis", "redis://:redis@127.0.0.1:6379/0"),
        ("local-dev", "postgres", "postgresql://postgres:postgres@db:5432/app_test"),
        ("local-dev", "dev", "Host=localhost;Port=5432;Database=app_dev;Username=dev;Password=dev"),
        ("local-dev", "app", "mysql+pymysql://app:app@localhost/app"),
        ("local-dev", "sa", "Server=localhost,1433;Database=App;User Id=sa;Password=sa;TrustServerCertificate=True"),
        ("local-dev", "postgres", "jdbc:postgresql://localhost:5432/app?user=postgres&password=postgres"),
        ("docs-example", "password", "postgresql://user:password@host:5432/dbname"),
        ("docs-example", "tiger", "postgresql://scott:tiger@localhost/mydatabase"),
        ("docs-example", "pass", "mysql://user:pass@localhost/dbname"),
        ("docs-example", "YourStrong@Passw0rd", "Server=localhost;Database=master;User Id=sa;Password=YourStrong@Passw0rd;"),
        ("placeholder", "<password>", "mongodb+srv://<username>:<password>@cluster0.mongodb.net/?retryWrites=true&w=majority"),
        ("placeholder", "${DB_PASSWORD}", "postgresql://app:${DB_PASSWORD}@db.internal:5432/app"),
        ("placeholder", "%(DB_PASS)s", "postgresql://%(DB_USER)s:%(DB_PASS)s@%(DB_HOST)s/app"),
        ("placeholder", "{password}", "postgresql://{user}:{password}@{host}:{port}/{database}"),
        ("placeholder", "<your-password>", "Server=tcp:myserver.database.windows.net,1433;Database=mydb;User ID=admin;Password=<your-password>;Encrypt=True;"),
        ("placeholder", "<your-key>", "Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=<your-key>"),
        ("placeholder", "{{ .Values.db.password }}", "postgresql://app:{{ .Values.db.password }}@{{ .Values.db.host }}:5432/app"),
        ("placeholder", "${env:DB_PASS}", "jdbc:postgresql://db:5432/app?user=app&password=${env:DB_PASS}"),
        ("placeholder", "********", "Server=sql01;Database=Reports;User Id=report;Password=********;"),
        ("placeholder", "$(REDIS_PASSWORD)", "redis://:$(REDIS_PASSWORD)@redis-master:6379/0"),
        ("azure-storage-emulator", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
         "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"),
        ("placeholder", "UseDevelopmentStorage=true", "UseDevelopmentStorage=true"),
        ("local-dev", "app", "postgres://app:app@localhost/app_dev"),
        ("local-dev", "rabbit", "amqp://rabbit:rabbit@rabbitmq:5672/"),
        ("local-dev", "example", "mongodb://root:example@mongo:27017/"),
        ("placeholder", "${REDIS_PASSWORD}", "redis://default:${REDIS_PASSWORD}@redis:6379/0"),
        ("placeholder", "${MONGO_PASS}", "mongodb://${MONGO_USER}:${MONGO_PASS}@mongo:27017/app?authSource=admin"),
        ("placeholder", "$(DB_PASSWORD)", "Server=db;Database=app;User Id=app;Password=$(DB_PASSWORD);"),
        ("docs-example", "<YourStrong!Passw0rd>", "jdbc:sqlserver://localhost:1433;databaseName=app;user=sa;password=<YourStrong!Passw0rd>"),
        ("docs-example", "secret", "amqp://user:secret@broker.example.com:5672/vhost"),
    ]
    reps = c.n(1)
    for rep in range(reps):
        for fmt, pw, s in specs:
            if rep:
                s = s.replace("app", f"app{rep}", 1) if "app" in s else s + f";Application Name=job{rep}"
            names = ["DATABASE_URL", "DB_URL", "CONNECTION_STRING", "BROKER_URL", "STORAGE_CONNECTION"]
            if r.random() < 0.6 or fmt == "azure-storage-emulator":
                syn = ("dotenv", "yaml", "json", "python", "toml", "properties", "shell") if fmt != "local-dev" else ("dotenv", "yaml", "json", "python", "toml")
                c.queue(Item(r.choice(names), s, [N("connstr", fmt, pw, needle=s)], syn))
            else:
                conn_specific(c, fmt, pw, s, r.choice(names), NEG)
    for _ in range(c.n(4)):
        dsn = f"https://{T.rs(r, T.HEX, 32)}@o{r.randint(100000, 999999)}.ingest.{r.choice(['', 'us.', 'de.'])}sentry.io/{r.randint(1000000, 9999999)}"
        if r.random() < 0.5:
            text = (f"import * as Sentry from '@sentry/react';\n\nSentry.init({{\n  dsn: '{dsn}',\n  environment: import.meta.env.MODE,\n"
                    f"  tracesSampleRate: 0.1,\n}});\n")
            c.emit(c.place(["web/src/sentry.ts", "src/instrument.ts", "frontend/src/sentry.js"], negative=True), text,
                   [PUB("connstr", "sentry-dsn", dsn)])
        else:
            c.queue(Item("SENTRY_DSN", dsn, [PUB("connstr", "sentry-dsn", dsn)], ("dotenv", "yaml", "json", "python")))


# ====================================================================== class: distinctive

def distinctive(c):
    r = c.r
    plans = [
        (T.telegram, "telegram-bot-token", ["NOTIFY_TOKEN", "ALERTS_TOKEN", "CHAT_NOTIFIER_TOKEN", "BOT_TOKEN", "ONCALL_PUSH_TOKEN"], 8),
        (T.azure_devops_pat, "azure-devops-pat", ["PAT", "PERSONAL_ACCESS_TOKEN", "AZ_PAT", "GIT_PAT"], 8),
        (T.okta, "okta-api-token", ["OKTA_API_TOKEN", "OKTA_TOKEN", "OKTA_MGMT_TOKEN"], 7),
        (T.vault_legacy, "vault-legacy-token", ["VAULT_TOKEN", "VAULT_ROOT_TOKEN", "VAULT_CLIENT_TOKEN"], 7),
        (T.salesforce, "salesforce-session", ["ACCESS_TOKEN", "SESSION_ID", "CRM_TOKEN", "SYNC_ACCESS_TOKEN"], 7),
        (T.bitbucket_dc, "bitbucket-dc-token", ["GIT_TOKEN", "SCM_TOKEN", "HTTP_ACCESS_TOKEN", "REPO_TOKEN"], 7),
    ]
    for fn, fmt, names, count in plans:
        for _ in range(c.n(count)):
            v = c.new(fn)
            name = r.choice(names)
            style = r.random()
            if fmt == "azure-devops-pat" and style < 0.35:
                distinctive_pat_file(c, v)
            elif fmt in ("salesforce-session", "bitbucket-dc-token") and style < 0.35:
                distinctive_curl(c, v, fmt)
            else:
                c.queue(Item(name, v, [P("distinctive", fmt, v)]))


def distinctive_pat_file(c, v):
    r = c.r
    kind = r.choice(["json", "ps1", "yaml"])
    org = r.choice(["northwind", "contoso", "fabrikam"])
    if kind == "json":
        text = json.dumps({"organization": org, "project": r.choice(F.PROJECTS), "personalAccessToken": v, "pollSeconds": 60}, indent=2)
        paths = ["tools/pipeline-sync.json", "config/devops.json"]
    elif kind == "ps1":
        text = (f"$org = '{org}'\n$pat = '{v}'\n$headers = @{{ Authorization = 'Basic ' + [Convert]::ToBase64String([Text.Encoding]::ASCII.GetBytes(\":$pat\")) }}\n"
                f"Invoke-RestMethod -Uri \"https://dev.azure.com/$org/_apis/projects?api-version=7.1\" -Headers $headers\n")
        paths = ["scripts/List-Projects.ps1", "ops/pipelines.ps1"]
    else:
        text = f"sync:\n  organization: {org}\n  pat: {v}\n  interval: 10m\n"
        paths = ["config/sync.yaml", "tools/mirror.yml"]
    c.emit(c.place(paths), text, [P("distinctive", "azure-devops-pat", v)])


def distinctive_curl(c, v, fmt):
    r = c.r
    w = F.words(r)
    if fmt == "salesforce-session":
        cmd = f"curl -s \"https://{r.choice(['crm', 'sales'])}.{w['domain']}/services/data/v60.0/query?q=SELECT+Id+FROM+Account\" -H \"Authorization: Bearer {v}\""
    else:
        cmd = f"curl -s -H \"Authorization: Bearer {v}\" \"https://git.{w['domain']}/rest/api/1.0/projects/OPS/repos?limit=100\""
    text = "#!/bin/sh\nset -e\n\n# one-off export, see ticket OPS-" + str(r.randint(100, 9999)) + f"\n{cmd} | jq '.records | length'\n"
    c.emit(c.place(["scripts/export-⟨noun⟩s.sh", "tools/adhoc/⟨verb⟩.sh"]), text, [P("distinctive", fmt, v)])


def distinctive_negatives(c):
    r = c.r
    gens = [
        ("telegram-docs-example", lambda: "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "BOT_TOKEN", 1),
        ("telegram-chat-id", lambda: f"-100{T.rs(r, string.digits, 10)}", "TELEGRAM_CHAT_ID", 2),
        ("ipfs-cid", lambda: "bafybei" + T.rs(r, T.B32L, 52), "CONTENT_CID", 4),
        ("onion-address", lambda: T.rs(r, T.B32L, 55) + r.choice("adqd") + ".onion", "MIRROR_HOST", 3),
        ("okta-client-id", lambda: "0oa" + T.rs(r, T.ALNUM, 17), "OKTA_CLIENT_ID", 3),
        ("vault-placeholder", lambda: "s." + "x" * 24, "VAULT_TOKEN", 1),
        ("salesforce-record-id", lambda: r.choice(["001", "003", "006", "00D"]) + T.rs(r, string.digits + string.ascii_uppercase, 15), "SF_RECORD_ID", 4),
        ("bitbucket-placeholder", lambda: "BBDC-<your-http-access-token>", "BITBUCKET_TOKEN", 1),
        ("docker-digest", lambda: "sha256:" + T.rs(r, T.HEX, 64), "BASE_IMAGE_DIGEST", 4),
        ("uuid-id", lambda: T.uuid4(r), "REQUEST_ID", 4),
        ("git-sha", lambda: T.rs(r, T.HEX, 40), "DEPLOYED_COMMIT", 3),
        ("nix-store-path", lambda: f"/nix/store/{T.rs(r, '0123456789abcdfghijklmnpqrsvwxyz', 32)}-{r.choice(['openssl-3.0.13', 'python3-3.11.9', 'nodejs-20.12.2'])}", "TOOLCHAIN_PATH", 3),
        ("ulid-id", lambda: "01" + T.rs(r, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 24), "TRACE_ID", 3),
    ]
    for fmt, fn, name, count in gens:
        for _ in range(c.n(count)):
            fixed = fmt in ("telegram-docs-example", "vault-placeholder", "bitbucket-placeholder")
            v = fn() if fixed else c.new(lambda rr: fn())  # documentation values repeat by nature
            if fixed:
                w = F.words(r)
                text = F.markdown(r, f"{w['noun'].title()} notifications", 2) + (
                    f"\n## Configuration\n\nSet the token in the environment before starting the service:\n\n```sh\nexport {name}={v}\n```\n")
                c.emit(c.place(["docs/configuration.md", "docs/notifications.md", "README.md"], negative=True), text,
                       [N("distinctive", fmt, v)])
            else:
                c.queue(Item(name, v, [N("distinctive", fmt, v)]))


# ====================================================================== class: prefixed

def prefixed(c):
    r = c.r
    plans = [
        ("github-ghp", lambda rr: T.github(rr, "ghp_"), ["GITHUB_TOKEN", "GH_TOKEN", "TOKEN"], 3),
        ("github-gho", lambda rr: T.github(rr, "gho_"), ["GITHUB_OAUTH_TOKEN", "ACCESS_TOKEN"], 1),
        ("github-ghu", lambda rr: T.github(rr, "ghu_"), ["GITHUB_USER_TOKEN"], 1),
        ("github-ghs", lambda rr: T.github(rr, "ghs_"), ["GITHUB_APP_TOKEN", "INSTALLATION_TOKEN"], 1),
        ("github-ghr", lambda rr: T.github(rr, "ghr_"), ["GITHUB_REFRESH_TOKEN", "REFRESH_TOKEN"], 1),
        ("github-fine-grained", T.github_fine_grained, ["GITHUB_TOKEN", "GH_PAT"], 1),
        ("github-app-jwt-token", T.ghs_app_jwt, ["GITHUB_INSTALLATION_TOKEN", "GH_APP_TOKEN"], 1),
        ("gitlab-pat-routable", T.glpat_routable, ["GITLAB_TOKEN", "GL_TOKEN", "CI_PUSH_TOKEN"], 2),
        ("gitlab-pat-legacy", T.glpat_legacy, ["GITLAB_TOKEN", "PRIVATE_TOKEN"], 1),
        ("gitlab-agent", lambda rr: T.gitlab_other(rr, "glagent-"), ["AGENT_TOKEN", "KAS_AGENT_TOKEN"], 1),
        ("gitlab-incoming-mail", lambda rr: T.gitlab_other(rr, "glimt-"), ["INCOMING_MAIL_TOKEN"], 1),
        ("gitlab-scim-oauth", lambda rr: T.gitlab_other(rr, "glsoat-"), ["SCIM_TOKEN"], 1),
        ("gitlab-feature-flags", lambda rr: T.gitlab_other(rr, "glffct-"), ["UNLEASH_INSTANCE_ID", "FEATURE_FLAGS_TOKEN"], 1),
        ("slack-xoxb", T.slack_xoxb, ["SLACK_BOT_TOKEN", "SLACK_TOKEN"], 2),
        ("slack-xoxp", T.slack_xoxp, ["SLACK_USER_TOKEN"], 1),
        ("slack-xoxc", T.slack_xoxc, ["SLACK_CLIENT_TOKEN", "SLACK_XOXC"], 1),
        ("slack-xoxd", T.slack_xoxd, ["SLACK_COOKIE_D", "SLACK_D_COOKIE"], 1),
        ("stripe-sk-live", lambda rr: T.stripe_live(rr, "sk"), ["STRIPE_SECRET_KEY", "STRIPE_API_KEY"], 2),
        ("stripe-rk-live", lambda rr: T.stripe_live(rr, "rk"), ["STRIPE_RESTRICTED_KEY"], 1),
        ("openai-project", T.openai_project, ["OPENAI_API_KEY", "LLM_API_KEY"], 1),
        ("openai-legacy", T.openai_legacy, ["OPENAI_API_KEY", "OPENAI_KEY"], 1),
        ("anthropic", T.anthropic, ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"], 1),
        ("npm", T.npm, ["NPM_TOKEN", "NODE_AUTH_TOKEN"], 1),
        ("pypi", T.pypi, ["PYPI_TOKEN", "TWINE_PASSWORD"], 1),
        ("sendgrid", T.sendgrid, ["SENDGRID_API_KEY", "MAIL_API_KEY"], 1),
        ("vercel-vcp", lambda rr: T.vercel(rr, "vcp_"), ["VERCEL_TOKEN"], 1),
        ("vercel-vci", lambda rr: T.vercel(rr, "vci_"), ["VERCEL_INTEGRATION_TOKEN"], 1),
        ("vercel-vca", lambda rr: T.vercel(rr, "vca_"), ["VERCEL_ACCESS_TOKEN"], 1),
        ("vercel-vcr", lambda rr: T.vercel(rr, "vcr_"), ["VERCEL_REFRESH_TOKEN"], 1),
        ("vercel-vck", lambda rr: T.vercel(rr, "vck_"), ["VERCEL_API_KEY"], 1),
        ("aws-bedrock", T.bedrock, ["AWS_BEARER_TOKEN_BEDROCK", "BEDROCK_API_KEY"], 1),
        ("google-aq", T.google_aq, ["GOOGLE_API_KEY", "GEMINI_API_KEY"], 1),
        ("buildkite-bkua", lambda rr: T.buildkite(rr, "bkua_"), ["BUILDKITE_API_TOKEN"], 1),
        ("buildkite-bkct", lambda rr: T.buildkite(rr, "bkct_"), ["BUILDKITE_AGENT_TOKEN"], 1),
        ("segment", T.segment, ["SEGMENT_PUBLIC_API_TOKEN", "SEGMENT_TOKEN"], 1),
        ("nvidia", T.nvidia, ["NVIDIA_API_KEY", "NGC_API_KEY"], 1),
        ("neon", T.neon, ["NEON_API_KEY"], 1),
        ("langfuse-secret", T.langfuse_secret, ["LANGFUSE_SECRET_KEY"], 1),
        ("docker-swarm", T.swarm, ["SWARM_JOIN_TOKEN", "JOIN_TOKEN"], 1),
        ("deno-deploy", T.deno, ["DENO_DEPLOY_TOKEN"], 1),
        ("wandb", T.wandb, ["WANDB_API_KEY"], 1),
        ("datastax-astra", T.astra, ["ASTRA_DB_APPLICATION_TOKEN"], 1),
        ("apify", T.apify, ["APIFY_TOKEN", "APIFY_API_TOKEN"], 1),
        ("tavily", T.tavily, ["TAVILY_API_KEY"], 1),
        ("figma", T.figma, ["FIGMA_TOKEN"], 1),
        ("newrelic-nrak", lambda rr: T.newrelic(rr, "NRAK-"), ["NEW_RELIC_API_KEY"], 1),
        ("newrelic-nrra", lambda rr: T.newrelic(rr, "NRRA-"), ["NEW_RELIC_ADMIN_KEY", "NR_REST_KEY"], 1),
        ("huggingface", T.huggingface, ["HF_TOKEN", "HUGGINGFACEHUB_API_TOKEN"], 1),
        ("doppler", T.doppler, ["DOPPLER_TOKEN"], 1),
        ("linear", T.linear, ["LINEAR_API_KEY"], 1),
        ("shopify", T.shopify, ["SHOPIFY_ACCESS_TOKEN", "SHOPIFY_ADMIN_TOKEN"], 1),
        ("dockerhub-pat", T.dockerhub_pat, ["DOCKERHUB_TOKEN", "DOCKER_PASSWORD"], 1),
    ]
    for fmt, fn, names, count in plans:
        for _ in range(c.n(count)):
            v = c.new(fn)
            if r.random() < 0.2:
                doc_curl(c, v, fmt)
            else:
                c.queue(Item(r.choice(names), v, [P("prefixed", fmt, v)]))
    for _ in range(c.n(2)):
        kid, sec = c.new(T.aws_access_key_id), c.new(T.aws_secret_access_key)
        aws_pair(c, kid, sec, POS)
    for _ in range(c.n(1)):
        cf = c.new(T.cloudflare_global)
        c.kv_file(r.choice(["dotenv", "shell", "yaml"]), [
            Item("CF_API_EMAIL", f"{r.choice(F.FIRST)}@{r.choice(F.DOMAINS)}", []),
            Item("CF_API_KEY", cf, [P("prefixed", "cloudflare-global-key", cf)])])
    for _ in range(c.n(1)):
        sk, ac, sec = c.new(T.twilio_sk), c.new(T.twilio_ac), c.new(lambda rr: T.rs(rr, T.ALNUM, 32))
        c.kv_file(r.choice(["dotenv", "yaml", "python", "json"]), [
            Item("TWILIO_ACCOUNT_SID", ac, [N("prefixed", "twilio-account-sid", ac)]),
            Item("TWILIO_API_KEY", sk, [P("prefixed", "twilio-api-key-sid", sk)]),
            Item("TWILIO_API_SECRET", sec, [P("context", "twilio-api-secret", sec)])])


def doc_curl(c, v, fmt):
    r = c.r
    w = F.words(r)
    text = F.markdown(r, f"{w['noun'].title()} integration", 2) + (
        f"\n## Calling the API by hand\n\n```sh\ncurl -sS https://api.{w['domain']}/v1/{w['noun']}s \\\n"
        f"  -H \"Authorization: Bearer {v}\" \\\n  -H 'Accept: application/json'\n```\n")
    c.emit(c.place(["docs/⟨noun⟩-api.md", "docs/runbooks/⟨verb⟩-⟨noun⟩s.md", "NOTES.md"]), text, [P("prefixed", fmt, v)])


def aws_pair(c, kid, sec, kind, fmt_id="aws-access-key-id", fmt_sec="aws-secret-access-key"):
    r = c.r
    mk = P if kind == POS else N
    style = r.choice(["credentials", "dotenv", "yaml", "python"])
    marks = [mk("prefixed", fmt_id, kid), mk("prefixed", fmt_sec, sec)]
    if style == "credentials":
        text = f"[default]\naws_access_key_id = {kid}\naws_secret_access_key = {sec}\nregion = {r.choice(F.REGIONS)}\n"
        c.emit(c.place(["deploy/aws/credentials", ".aws/credentials", "ci/aws-credentials"], negative=kind == NEG), text, marks)
    else:
        c.kv_file({"dotenv": "dotenv", "yaml": "yaml", "python": "python"}[style],
                  [Item("AWS_ACCESS_KEY_ID", kid, [marks[0]]), Item("AWS_SECRET_ACCESS_KEY", sec, [marks[1]])])


def prefixed_negatives(c):
    r = c.r
    for _ in range(c.n(3)):
        v = c.new(lambda rr: T.stripe_test(rr, "sk"))
        c.queue(Item("STRIPE_SECRET_KEY", v, [N("prefixed", "stripe-test-key", v)]))
    for _ in range(c.n(2)):
        v = c.new(lambda rr: T.stripe_test(rr, "pk"))
        c.queue(Item("STRIPE_PUBLISHABLE_KEY", v, [N("prefixed", "stripe-test-key", v)]))
    bad = [("github-bad-checksum", lambda rr: T.corrupt(rr, T.github(rr, "ghp_"), 4, 34, T.B62), "GITHUB_TOKEN", 3),
           ("npm-bad-checksum", lambda rr: T.corrupt(rr, T.npm(rr), 4, 34, T.B62), "NPM_TOKEN", 2),
           ("gitlab-bad-checksum", lambda rr: T.corrupt(rr, T.glpat_routable(rr), 6, 33, T.URLSAFE), "GITLAB_TOKEN", 2),
           ("vercel-bad-checksum", lambda rr: T.corrupt(rr, T.vercel(rr, "vcp_"), 4, 54, T.URLSAFE), "VERCEL_TOKEN", 2)]
    for fmt, fn, name, count in bad:
        for _ in range(c.n(count)):
            v = c.new(fn)
            c.queue(Item(name, v, [N("prefixed", fmt, v)]))
    for i in range(c.n(2)):
        aws_pair(c, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NEG, "aws-docs-example", "aws-docs-example")
    for _ in range(c.n(2)):
        dt = "dt0c01.ST2EY72KQINMH574WMNVI7YN.G3DFPBEJYMODIDAEX454M7YWBUVEFOWKPRVMWFASS64NFH52PX6BNDVFFM572RZM"
        docs_snippet(c, "DT_API_TOKEN", dt, "dynatrace-docs-example")
    for _ in range(c.n(2)):
        docs_snippet(c, "STRIPE_SECRET_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "stripe-docs-example")
    for _ in range(c.n(3)):
        v = c.new(T.posthog_public)
        text = (f"import posthog from 'posthog-js';\n\nposthog.init('{v}', {{\n  api_host: 'https://eu.i.posthog.com',\n"
                f"  person_profiles: 'identified_only',\n}});\n\nexport default posthog;\n")
        c.emit(c.place(["web/src/analytics.ts", "frontend/src/posthog.js", "src/lib/analytics.ts"], negative=True), text,
               [PUB("prefixed", "posthog-public-key", v)])
    for _ in range(c.n(3)):
        v = c.new(lambda rr: T.stripe_live(rr, "pk"))
        c.queue(Item(r.choice(["NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", "VITE_STRIPE_PK", "STRIPE_PUBLISHABLE_KEY"]), v,
                     [N("prefixed", "stripe-publishable-key", v)], ("dotenv", "typescript", "javascript", "json")))
    for _ in range(c.n(2)):
        v = c.new(T.langfuse_public)
        c.queue(Item("LANGFUSE_PUBLIC_KEY", v, [PUB("prefixed", "langfuse-public-key", v)]))
    for _ in range(c.n(2)):
        user = r.choice(F.FIRST)
        v = "pk." + T.b64url(json.dumps({"u": user, "a": T.rs(r, string.ascii_lowercase + string.digits, 25)}, separators=(",", ":")).encode()) + "." + T.rs(r, T.URLSAFE, 22)
        c.values.add(v)
        c.queue(Item(r.choice(["MAPBOX_PUBLIC_TOKEN", "VITE_MAPBOX_TOKEN"]), v, [N("prefixed", "mapbox-public-token", v)],
                     ("dotenv", "typescript", "javascript", "json")))
    for _ in range(c.n(2)):
        ref = T.rs(r, string.ascii_lowercase, 20)
        payload = {"iss": "supabase", "ref": ref, "role": "anon", "iat": r.randint(1_690_000_000, 1_720_000_000)}
        payload["exp"] = payload["iat"] + 315_360_000
        v = T.b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + T.b64url(json.dumps(payload, separators=(",", ":")).encode()) + "." + T.b64url(T.rbytes(r, 32))
        c.values.add(v)
        c.queue(Item(r.choice(["NEXT_PUBLIC_SUPABASE_ANON_KEY", "SUPABASE_ANON_KEY"]), v, [PUB("prefixed", "supabase-anon-key", v)],
                     ("dotenv", "typescript", "javascript")))
    for v, fmt, name in [("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "placeholder-token", "GITHUB_TOKEN"),
                         ("xoxb-your-bot-token", "placeholder-token", "SLACK_BOT_TOKEN"),
                         ("sk-proj-********************", "placeholder-token", "OPENAI_API_KEY"),
                         ("hf_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "placeholder-token", "HF_TOKEN")]:
        for i in range(c.n(1)):
            text = F.markdown(r, "Setup", 1) + f"\n## Environment\n\nCopy `.env.sample` to `.env` and fill in your own token:\n\n```\n{name}={v}\n```\n"
            c.emit(c.place(["docs/setup.md", "CONTRIBUTING.md", "docs/ENVIRONMENT.md", "README.md"], negative=True), text,
                   [N("prefixed", fmt, v)])


def docs_snippet(c, name, v, fmt):
    r = c.r
    w = F.words(r)
    text = F.markdown(r, f"{w['noun'].title()} client", 2) + (
        f"\n## Quick start\n\nThe values below are the vendor's documentation examples; use your own.\n\n```sh\nexport {name}={v}\n"
        f"./bin/{w['verb']}-{w['noun']}s --dry-run\n```\n")
    c.emit(c.place(["docs/quickstart.md", "docs/⟨noun⟩-client.md", "README.md"], negative=True), text, [N("prefixed", fmt, v)])


# ====================================================================== clean files

def clean_files(c):
    r = c.r
    for proj in c.projects:
        w = F.words(r)
        if f"{proj}/README.md" not in c.files:
            c.emit(f"{proj}/README.md", F.markdown(r, proj, r.randint(3, 5)), [])
        c.emit(f"{proj}/.gitignore", "\n".join(["# build output", "/build/", "/dist/", "node_modules/", "__pycache__/",
                                                "*.pyc", ".venv/", ".idea/", ".DS_Store", "coverage/"]) + "\n", [])
        kind = r.choice(["py", "js", "go", "java"])
        if kind == "py":
            reqs = "\n".join(sorted(r.sample(["requests==2.32.3", "psycopg2-binary==2.9.9", "pydantic==2.7.4", "fastapi==0.111.0",
                                             "uvicorn==0.30.1", "sqlalchemy==2.0.31", "celery==5.4.0", "boto3==1.34.131",
                                             "pandas==2.2.2", "click==8.1.7", "httpx==0.27.0"], 6)))
            _emit_free(c, proj, "requirements.txt", reqs)
            head, body = F.py_code(r, 3)
            _emit_free(c, proj, f"{proj.replace('-', '_')}/{w['noun']}s.py", head + "\n\n" + body)
            head, body = F.py_code(r, 2)
            _emit_free(c, proj, f"{proj.replace('-', '_')}/{w['verb']}.py", head + "\n\n" + body)
        elif kind == "js":
            pkg = {"name": proj, "version": f"{r.randint(0, 3)}.{r.randint(0, 20)}.{r.randint(0, 9)}", "private": True,
                   "scripts": {"start": "node src/index.js", "lint": "eslint .", "build": "tsc -p ."},
                   "dependencies": {"express": "^4.19.2", "axios": "^1.7.2", "pino": "^9.2.0"},
                   "devDependencies": {"typescript": "^5.5.2", "eslint": "^9.5.0"}}
            _emit_free(c, proj, "package.json", json.dumps(pkg, indent=2))
            head, body = F.js_code(r, 3)
            _emit_free(c, proj, f"src/routes/{w['noun']}s.js", head + "\n" + body + "\nmodule.exports = router;\n")
            _emit_free(c, proj, f"src/types/{w['noun']}.ts", F.ts_code(r, 3))
        elif kind == "go":
            _emit_free(c, proj, "go.mod", f"module github.com/{r.choice(['northwind', 'contoso'])}/{proj}\n\ngo 1.22\n\nrequire (\n"
                                          "\tgithub.com/jackc/pgx/v5 v5.6.0\n\tgithub.com/prometheus/client_golang v1.19.1\n)\n")
            _emit_free(c, proj, f"internal/{w['noun']}/handler.go", f"package {w['noun']}\n\nimport (\n\t\"context\"\n\t\"encoding/json\"\n"
                                                                   "\t\"errors\"\n\t\"net/http\"\n\t\"time\"\n)\n\n" + F.go_code(r, 3))
        else:
            _emit_free(c, proj, f"src/main/java/com/northwind/{proj.split('-')[0]}/{F.pascal(w['noun'])}Service.java",
                       f"package com.northwind.{proj.split('-')[0]};\n\nimport java.util.List;\nimport java.util.Optional;\n\n"
                       f"public class {F.pascal(w['noun'])}Service {{\n\n{F.java_methods(r, 3)}}}\n")
        _emit_free(c, proj, "Makefile", ".PHONY: build test lint\n\nbuild:\n\tdocker build -t $(IMAGE) .\n\nlint:\n\tpre-commit run --all-files\n\n"
                                        "deploy:\n\tkubectl apply -k deploy/k8s/overlays/$(ENV)\n")
        start = r.randint(0, 10**8)
        lines, _ = F.log_lines(r, r.randint(30, 80), start)
        _emit_free(c, proj, f"logs/{r.choice(['app', 'worker', 'access'])}-{r.randint(1, 28):02d}.log", "\n".join(lines))
        _emit_free(c, proj, "docs/architecture.md", F.markdown(r, f"{proj} architecture", 4))


def _emit_free(c, proj, rel, text):
    path = f"{proj}/{rel}"
    if path not in c.files:
        c.emit(path, text, [])


# ====================================================================== driver

def build(seed=1, scale=1.0):
    c = Corpus(seed, scale)
    # encoded
    for _ in range(c.n(8)):
        k8s_secret(c)
    for _ in range(c.n(4)):
        k8s_secret_placeholder(c)
    for _ in range(c.n(4)):
        dockerconfigjson(c)
    for _ in range(c.n(3)):
        docker_config_json(c)
    for _ in range(c.n(7)):
        notebook(c)
    for _ in range(c.n(5)):
        json_pem(c)
    for _ in range(c.n(3)):
        json_pem_public(c)
    for _ in range(c.n(6)):
        pem_split(c)
    for _ in range(c.n(3)):
        pem_split(c, public=True)
    for _ in range(c.n(4)):
        url_percent_password(c)
    for _ in range(c.n(3)):
        url_form_token(c)
    for _ in range(c.n(3)):
        basic_auth_log(c)
    for _ in range(c.n(3)):
        url_oauth_params(c)
    for _ in range(c.n(6)):
        data_uri(c)
    for _ in range(c.n(2)):
        package_lock(c)
    for _ in range(c.n(2)):
        sri_html(c)
    for _ in range(c.n(6)):
        escaped_prefix(c)
        escaped_punctuation(c)
    for _ in range(c.n(4)):
        split_literal(c)
    for _ in range(c.n(4)):
        der_base64_key(c)
    for _ in range(c.n(2)):
        der_base64_key(c, public=True)
    # the rest queue generic items first so that context files can share them
    conn_uris(c)
    conn_negatives(c)
    distinctive(c)
    distinctive_negatives(c)
    prefixed(c)
    prefixed_negatives(c)
    ctx_placeholders(c)
    ctx_hashes(c)
    for syntax in ["toml", "toml", "ini", "ini", "yaml", "yaml", "python", "python", "typescript", "typescript", "ruby", "ruby",
                   "go", "go", "properties", "dotenv", "dotenv", "shell", "php", "java", "csharp", "json", "javascript"]:
        for _ in range(c.n(1)):
            ctx_generic(c, syntax)
    for fn, count in [(pypirc, 2), (netrc, 2), (java_properties, 2), (gradle_properties, 2), (web_config, 2), (appsettings, 2),
                      (terraform_var, 2), (k8s_env, 2), (cmd_set, 2), (powershell, 2), (http_file, 2), (log_bearer, 3)]:
        for _ in range(c.n(count)):
            fn(c)
    for form in ["list", "map"]:
        for _ in range(c.n(1)):
            compose(c, form)
    for kind in ["ENV", "ARG"]:
        for _ in range(c.n(1)):
            dockerfile(c, kind)
    for fn, count in [(helm_template, 2), (gha_secret_ref, 2), (gitlab_ci, 2), (serverless_ssm, 2), (ecs_taskdef, 2)]:
        for _ in range(c.n(count)):
            fn(c)
    for fn, count in [(ps1_utf16, 2), (reg_utf16, 2), (lambda c: reg_utf16(c, negative=True), 1)]:
        for _ in range(c.n(count)):
            fn(c)
    # Session 29's classes, last: the corpus before them is drawn as it was.
    for fn, count in [(aligned_assignment, 2), (cli_secret, 2), (percent_password, 1), (commented_pem, 1)]:
        for _ in range(c.n(count)):
            fn(c)
    # Session 30's, after them.
    for fn, count in [(server_directive, 2), (cli_positional, 2), (pgpass, 1), (log_query_token, 1), (call_argument, 2),
                      (wallet_key, 1)]:
        for _ in range(c.n(count)):
            fn(c)
    # Session 31's, after them.
    for fn, count in [(compressed_base64, 2), (fallback_default, 2), (server_config, 2)]:
        for _ in range(c.n(count)):
            fn(c)
    # Session 32's, after them.
    for fn, count in [(table_cells, 2), (network_device, 2), (passphrase, 1), (framework_key, 2)]:
        for _ in range(c.n(count)):
            fn(c)
    # Session 33's, after them.
    for fn, count in [(token_uuid, 2), (key_name, 2), (header_pair, 1), (device_line, 1), (db_connect, 1)]:
        for _ in range(c.n(count)):
            fn(c)
    # Session 34's, after them.
    for fn, count in [(byte_array_key, 2), (word_password, 2), (command_password, 1), (app_secret, 2), (nested_key, 1)]:
        for _ in range(c.n(count)):
            fn(c)
    docs_weak_passwords(c)
    c.flush()
    clean_files(c)
    return c


def write(c, out: Path, seed, scale):
    tree = out / "tree"
    if tree.exists():
        if not (out / "labels.json").exists():
            raise SystemExit(f"{tree} exists and is not a corpus written by this script; choose another OUT_DIR")
        shutil.rmtree(tree)
    for rel in sorted(c.files):
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel in c.utf16:
            p.write_bytes(b"\xff\xfe" + c.files[rel].encode("utf-16-le"))
        else:
            with open(p, "w", encoding="utf-8", newline="") as fh:
                fh.write(c.files[rel])
    labels = sorted(c.labels, key=lambda l: (l["file"], l["line_start"], l["value"]))
    meta = {"seed": seed, "scale": scale, "tree": "tree", "files": len(c.files), "labels": labels}
    (out / "labels.json").write_text(json.dumps(meta, indent=1) + "\n")
    return labels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = build(args.seed, args.scale)
    labels = write(c, out, args.seed, args.scale)
    counts = {}
    for l in labels:
        counts.setdefault(l["class"], [0, 0])[l["kind"] == NEG] += 1
    print(f"wrote {len(c.files)} files to {out / 'tree'} and {len(labels)} labels to {out / 'labels.json'}")
    for cls in CLASSES:
        pos, neg = counts.get(cls, [0, 0])
        print(f"  {cls:<12} positives {pos:>4}  negatives {neg:>4}")


if __name__ == "__main__":
    main()
