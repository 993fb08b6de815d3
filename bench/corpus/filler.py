"""Realistic, secret-free filler: source code, configuration and prose around planted values.

Templates use ⟨name⟩ placeholders (filled by `fill`) so that braces, dollars and percent signs
of the target languages need no escaping. Nothing here may look like a credential: no literal
passwords, keys or tokens, no high-entropy strings.
"""
import re

NOUNS = ["order", "invoice", "customer", "shipment", "account", "payment", "report", "session",
         "product", "ticket", "event", "job", "subscription", "refund", "carrier", "quote",
         "listing", "document", "tenant", "webhook", "batch", "device", "booking", "route"]
VERBS = ["fetch", "load", "sync", "build", "export", "import", "validate", "publish", "resolve",
         "refresh", "archive", "render", "schedule", "notify", "reconcile", "enrich"]
DOMAINS = ["northwind-logistics.com", "contoso-retail.net", "fabrikam.io", "tailspin-travel.com",
           "adatum-health.org", "wingtiptoys.com", "litware.dev", "proseware.co", "woodgrove-bank.com",
           "alpineski-house.com", "relecloud.net", "lamnahealthcare.com"]
PROJECTS = ["billing-api", "orders-service", "atlas-web", "ledger-worker", "notify-hub", "catalog-sync",
            "checkout-web", "reporting-etl", "identity-gateway", "warehouse-ops", "ml-forecasting",
            "platform-infra", "mobile-backend", "support-portal", "data-pipelines", "search-indexer",
            "payments-core", "shipping-rates", "crm-connector", "analytics-notebooks", "helpdesk-bot",
            "pricing-engine", "fleet-tracker", "hr-portal"]
USERS = ["svc_billing", "app", "orders_rw", "reporting_ro", "etl_loader", "deploy", "api_user",
         "ledger", "admin_ops", "backend", "integration", "airflow", "metabase", "grafana_reader",
         "keycloak", "jenkins", "superset", "dbt_runner"]
DBS = ["orders", "billing", "ledger", "catalog", "analytics", "warehouse", "crm", "identity",
       "inventory", "payments", "events", "reporting"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
FIRST = ["maria", "jonas", "priya", "tomasz", "aiko", "diego", "fatima", "liam", "chen", "olga",
         "samir", "grace", "noah", "ines", "kwame", "elena"]


def fill(template, **kw):
    def sub(m):
        key = m.group(1)
        if key in kw:
            return str(kw[key])
        if key[0].isupper() and key.lower() in kw:
            v = str(kw[key.lower()])
            return v[0].upper() + v[1:]
        raise KeyError(key)
    return re.sub(r"⟨(\w+)⟩", sub, template)


def words(r):
    noun, verb = r.choice(NOUNS), r.choice(VERBS)
    return {"noun": noun, "verb": verb, "noun2": r.choice([n for n in NOUNS if n != noun]),
            "n": r.choice([3, 5, 10, 20, 25, 50, 100]), "domain": r.choice(DOMAINS),
            "region": r.choice(REGIONS), "db": r.choice(DBS), "port": r.choice([8000, 8080, 3000, 5000, 9090])}


def camel(name):
    parts = name.lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def pascal(name):
    return "".join(p.title() for p in name.lower().split("_"))


def lower(name):
    return name.lower()


def dotted(name):
    return name.lower().replace("_", ".")


# ------------------------------------------------------------------ source code

PY_HEAD = [
    "import logging\nimport os\nfrom datetime import datetime, timedelta\n\nimport requests\n\nlog = logging.getLogger(__name__)\n",
    "from __future__ import annotations\n\nimport json\nimport logging\nfrom dataclasses import dataclass, field\nfrom typing import Iterable\n\nlogger = logging.getLogger(__name__)\n",
    "import os\nimport sys\nimport time\n\nimport click\nimport psycopg2\n",
    "import asyncio\nimport logging\n\nimport httpx\nfrom pydantic import BaseModel\n\nlog = logging.getLogger(\"⟨noun⟩s\")\n",
]

PY_BLOCKS = [
    '''def ⟨verb⟩_⟨noun⟩s(client, since=None, page_size=⟨n⟩):
    """⟨Verb⟩ ⟨noun⟩s changed after `since`, following pagination."""
    params = {"limit": page_size}
    if since is not None:
        params["updated_after"] = since.isoformat()
    while True:
        resp = client.get("/v2/⟨noun⟩s", params=params, timeout=30)
        resp.raise_for_status()
        body = resp.json()
        yield from body["data"]
        if not body.get("next_cursor"):
            break
        params["cursor"] = body["next_cursor"]
''',
    '''class ⟨Noun⟩Repository:
    def __init__(self, conn):
        self.conn = conn

    def get(self, ⟨noun⟩_id):
        with self.conn.cursor() as cur:
            cur.execute("SELECT * FROM ⟨noun⟩s WHERE id = %s", (⟨noun⟩_id,))
            return cur.fetchone()

    def count_pending(self):
        with self.conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM ⟨noun⟩s WHERE status = 'pending'")
            return cur.fetchone()[0]
''',
    '''@dataclass
class ⟨Noun⟩Summary:
    ⟨noun⟩_id: int
    total_cents: int = 0
    items: list = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.total_cents / 100

    def to_json(self) -> str:
        return json.dumps({"id": self.⟨noun⟩_id, "total": self.total, "items": self.items})
''',
    '''def chunked(items, size=⟨n⟩):
    """Yield successive lists of at most `size` items."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
''',
    '''def retry(fn, attempts=5, backoff=1.5):
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (ConnectionError, TimeoutError) as exc:
            if attempt == attempts:
                raise
            log.warning("attempt %d failed: %s; retrying in %.1fs", attempt, exc, delay)
            time.sleep(delay)
            delay *= backoff
''',
    '''def ⟨verb⟩_⟨noun2⟩_report(rows):
    totals = {}
    for row in rows:
        key = (row["region"], row["day"])
        totals[key] = totals.get(key, 0) + row["amount"]
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
''',
    '''async def poll_⟨noun⟩s(client: httpx.AsyncClient, interval: float = 15.0):
    while True:
        resp = await client.get("/⟨noun⟩s/pending")
        for item in resp.json().get("items", []):
            log.info("processing ⟨noun⟩ %s", item["id"])
        await asyncio.sleep(interval)
''',
]

JS_HEAD = [
    "'use strict';\n\nconst express = require('express');\nconst axios = require('axios');\n\nconst router = express.Router();\n",
    "import { Router } from 'express';\nimport axios from 'axios';\nimport { logger } from './logger';\n\nconst router = Router();\n",
    "const path = require('path');\nconst fs = require('fs/promises');\n",
]

JS_BLOCKS = [
    '''router.get('/⟨noun⟩s/:id', async (req, res, next) => {
  try {
    const ⟨noun⟩ = await db.⟨noun⟩s.findById(req.params.id);
    if (!⟨noun⟩) return res.status(404).json({ error: 'not found' });
    res.json(⟨noun⟩);
  } catch (err) {
    next(err);
  }
});
''',
    '''async function ⟨verb⟩⟨Noun⟩s(since) {
  const params = { updatedAfter: since.toISOString(), limit: ⟨n⟩ };
  const { data } = await axios.get(`${BASE_URL}/⟨noun⟩s`, { params, timeout: 10000 });
  return data.items.map((item) => ({ id: item.id, status: item.status }));
}
''',
    '''function formatCents(cents, currency = 'EUR') {
  return new Intl.NumberFormat('de-DE', { style: 'currency', currency }).format(cents / 100);
}
''',
    '''const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withRetry(fn, attempts = 4) {
  for (let i = 1; i <= attempts; i += 1) {
    try {
      return await fn();
    } catch (err) {
      if (i === attempts) throw err;
      await sleep(250 * 2 ** i);
    }
  }
  return undefined;
}
''',
    '''export function groupBy(items, key) {
  return items.reduce((acc, item) => {
    (acc[item[key]] ||= []).push(item);
    return acc;
  }, {});
}
''',
]

TS_BLOCKS = [
    '''export interface ⟨Noun⟩ {
  id: string;
  createdAt: Date;
  status: 'pending' | 'active' | 'closed';
  amountCents: number;
}
''',
    '''export async function ⟨verb⟩⟨Noun⟩(id: string): Promise<⟨Noun⟩ | undefined> {
  const res = await fetch(`${apiBase}/⟨noun⟩s/${encodeURIComponent(id)}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`⟨noun⟩ lookup failed: ${res.status}`);
  return (await res.json()) as ⟨Noun⟩;
}
''',
    '''export class ⟨Noun⟩Cache {
  private readonly entries = new Map<string, { value: unknown; expires: number }>();

  constructor(private readonly ttlMs = ⟨n⟩ * 1000) {}

  get<T>(key: string): T | undefined {
    const hit = this.entries.get(key);
    if (!hit || hit.expires < Date.now()) return undefined;
    return hit.value as T;
  }

  set(key: string, value: unknown): void {
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
  }
}
''',
]

JAVA_BLOCKS = [
    '''    public Optional<⟨Noun⟩> find⟨Noun⟩(long id) {
        return jdbc.query("SELECT * FROM ⟨noun⟩s WHERE id = ?", this::map⟨Noun⟩, id)
                .stream()
                .findFirst();
    }
''',
    '''    private ⟨Noun⟩ map⟨Noun⟩(ResultSet rs, int rowNum) throws SQLException {
        ⟨Noun⟩ result = new ⟨Noun⟩();
        result.setId(rs.getLong("id"));
        result.setStatus(rs.getString("status"));
        result.setCreatedAt(rs.getTimestamp("created_at").toInstant());
        return result;
    }
''',
    '''    @Scheduled(fixedDelay = ⟨n⟩000)
    public void ⟨verb⟩Pending() {
        List<⟨Noun⟩> pending = repository.findByStatus("PENDING");
        log.info("{} pending ⟨noun⟩s", pending.size());
        pending.forEach(this::process);
    }
''',
]

GO_BLOCKS = [
    '''func (s *Server) handle⟨Noun⟩(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	item, err := s.store.Get⟨Noun⟩(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		s.log.Error("get ⟨noun⟩", "id", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(item)
}
''',
    '''func withTimeout(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return fn(ctx)
}
''',
    '''type ⟨Noun⟩ struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}
''',
]

RUBY_BLOCKS = [
    '''class ⟨Noun⟩Sync
  def initialize(client, logger: Rails.logger)
    @client = client
    @logger = logger
  end

  def call(since:)
    @client.list_⟨noun⟩s(updated_after: since).each do |item|
      record = ⟨Noun⟩.find_or_initialize_by(external_id: item["id"])
      record.update!(status: item["status"])
    end
  end
end
''',
    '''def ⟨verb⟩_⟨noun⟩s(scope)
  scope.where(status: :pending).find_each(batch_size: ⟨n⟩) do |record|
    ⟨Noun⟩Job.perform_later(record.id)
  end
end
''',
]

CSHARP_BLOCKS = [
    '''        public async Task<⟨Noun⟩?> Get⟨Noun⟩Async(Guid id, CancellationToken ct)
        {
            var response = await _http.GetAsync($"⟨noun⟩s/{id}", ct);
            if (response.StatusCode == HttpStatusCode.NotFound) return null;
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<⟨Noun⟩>(cancellationToken: ct);
        }
''',
]

C_BLOCKS = [
    '''static int parse_port(const char *s, uint16_t *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\\0' || v <= 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}
''',
    '''static void log_line(FILE *f, const char *level, const char *msg)
{
    time_t now = time(NULL);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", gmtime(&now));
    fprintf(f, "%s %s %s\\n", buf, level, msg);
}
''',
]


def py_code(r, blocks=2):
    w = words(r)
    head = fill(r.choice(PY_HEAD), **w)
    body = "\n\n".join(fill(b, **words(r)) for b in r.sample(PY_BLOCKS, blocks))
    return head, body


def js_code(r, blocks=2):
    return fill(r.choice(JS_HEAD), **words(r)), "\n".join(fill(b, **words(r)) for b in r.sample(JS_BLOCKS, blocks))


def ts_code(r, blocks=2):
    return "\n".join(fill(b, **words(r)) for b in r.sample(TS_BLOCKS, blocks))


def java_methods(r, blocks=2):
    return "\n".join(fill(b, **words(r)) for b in r.sample(JAVA_BLOCKS, blocks))


def go_code(r, blocks=2):
    return "\n".join(fill(b, **words(r)) for b in r.sample(GO_BLOCKS, blocks))


def ruby_code(r, blocks=1):
    return "\n".join(fill(b, **words(r)) for b in r.sample(RUBY_BLOCKS, blocks))


def csharp_code(r):
    return fill(r.choice(CSHARP_BLOCKS), **words(r))


def c_code(r, blocks=1):
    return "\n".join(fill(b, **words(r)) for b in r.sample(C_BLOCKS, blocks))


# ------------------------------------------------------------------ settings (non-secret)

def settings(r, k):
    """k distinct non-secret (NAME, value) settings."""
    w = words(r)
    pool = [
        ("LOG_LEVEL", r.choice(["info", "debug", "warn"])),
        ("PORT", str(w["port"])),
        ("AWS_REGION", w["region"]),
        ("APP_ENV", r.choice(["production", "staging", "prod"])),
        ("HTTP_TIMEOUT_SECONDS", str(r.choice([10, 15, 30, 60]))),
        ("MAX_WORKERS", str(r.choice([2, 4, 8, 16]))),
        ("CACHE_TTL", str(r.choice([60, 300, 900, 3600]))),
        ("API_BASE_URL", f"https://api.{w['domain']}/v{r.choice([1, 2, 3])}"),
        ("S3_BUCKET", f"{w['noun']}-exports-{r.choice(['prod', 'eu', 'archive'])}"),
        ("FEATURE_NEW_CHECKOUT", r.choice(["true", "false"])),
        ("DB_HOST", f"{w['db']}-db.internal.{w['domain']}"),
        ("DB_PORT", str(r.choice([5432, 3306, 1433]))),
        ("DB_NAME", w["db"]),
        ("DB_USER", r.choice(USERS)),
        ("SMTP_HOST", f"smtp.{w['domain']}"),
        ("SMTP_PORT", str(r.choice([25, 465, 587]))),
        ("REDIS_HOST", r.choice(["redis", "redis-master.cache.svc.cluster.local", "127.0.0.1"])),
        ("SENTRY_ENVIRONMENT", r.choice(["production", "staging"])),
        ("TZ", r.choice(["UTC", "Europe/Berlin", "America/New_York"])),
        ("QUEUE_NAME", f"{w['noun']}-events"),
        ("RETRY_LIMIT", str(r.choice([3, 5, 8]))),
        ("METRICS_PATH", "/metrics"),
        ("CORS_ORIGINS", f"https://app.{w['domain']},https://admin.{w['domain']}"),
        ("UPLOAD_MAX_MB", str(r.choice([10, 25, 100]))),
    ]
    return r.sample(pool, k)


# ------------------------------------------------------------------ prose and logs

MD_PARAS = [
    "This service ⟨verb⟩s ⟨noun⟩s from the upstream API and stores them in the `⟨db⟩` database. "
    "It runs as a Kubernetes deployment with two replicas and scales on queue depth.",
    "## Local development\n\n1. Install the toolchain listed in `.tool-versions`.\n2. Copy the sample "
    "environment file and adjust hosts.\n3. Run `make dev` and open http://localhost:⟨port⟩.",
    "## Deployment\n\nMerges to `main` build an image and deploy to staging. Production deploys are "
    "promoted manually from the release pipeline after the smoke tests pass.",
    "## Troubleshooting\n\nIf the worker stops consuming, check the dead-letter queue `⟨noun⟩-events-dlq` "
    "and the `⟨noun⟩_sync_lag_seconds` dashboard panel before restarting pods.",
    "## Architecture\n\nRequests enter through the gateway, are authenticated against the identity "
    "service and routed to the ⟨noun⟩ handlers. Long-running work goes to the job queue.",
    "The nightly job exports ⟨noun2⟩ data to S3 (`s3://⟨noun2⟩-exports/`) in Parquet, partitioned by day. "
    "Downstream dashboards read from the Athena table `analytics.⟨noun2⟩_daily`.",
    "## Monitoring\n\nAlerts fire when p95 latency exceeds 800 ms for ten minutes or when the error rate "
    "is above 2%. Runbooks live in the `ops/runbooks` folder.",
]


def markdown(r, title, paras=3):
    out = [f"# {title}", ""]
    for p in r.sample(MD_PARAS, paras):
        out += [fill(p, **words(r)), ""]
    return "\n".join(out)


LOG_MSGS = [
    "INFO  http  GET /api/v1/⟨noun⟩s?page=⟨n⟩ 200 ⟨ms⟩ms",
    "INFO  http  POST /api/v1/⟨noun⟩s 201 ⟨ms⟩ms",
    "WARN  worker  ⟨noun⟩ sync lagging by ⟨n⟩s",
    "INFO  worker  processed ⟨n⟩ ⟨noun⟩s in ⟨ms⟩ms",
    "DEBUG db  pool stats: active=⟨n⟩ idle=2 waiting=0",
    "ERROR http  GET /api/v1/⟨noun2⟩s/⟨id⟩ 502 upstream timeout after 30000ms",
    "INFO  scheduler  job ⟨verb⟩-⟨noun⟩s finished status=ok",
    "DEBUG cache  miss key=⟨noun⟩:⟨id⟩",
]


def log_lines(r, n, start_ts):
    out = []
    t = start_ts
    for _ in range(n):
        t += r.randint(1, 9000)
        w = words(r)
        w.update(ms=r.randint(3, 900), id=r.randint(1000, 99999))
        out.append(f"{_ts(t)} {fill(r.choice(LOG_MSGS), **w)}")
    return out, t


def _ts(ms):
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"2025-03-{1 + d % 28:02d}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"


def ts(ms):
    return _ts(ms)
