//! The Grafana dashboard against the running service's metrics. (The deployment files' own
//! checks set environment variables, so they run in their own test binary, `tests/deploy`.)

use std::path::{Path, PathBuf};

use crate::TestResult;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// The Grafana dashboard queries only metrics the service exposes. A family appears in
/// `/metrics` once it has a sample, so the service first does what each one counts: a push
/// with a key that is validated (its recheck stays queued) and revoked, and a hook record.
#[test]
fn the_grafana_dashboard_names_only_exposed_metrics() -> TestResult {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy().join("grafana-dashboard.json"))?)?;
    let world = crate::World::new()?;
    let extra = format!(
        "[revoke.github]\npolicy = \"auto\"\napi_url = \"{}/github-api\"\nallow_internal = true\n\
         allow_http = true\nrequests_per_hour = 360000\n[validate]\nenabled = true\n\
         [validate.github]\nallow_internal = true\nallow_http = true\n",
        world.fake.base
    );
    let service = crate::Service::start(&world, &world.config(&extra)?)?;
    let repo = world.repo("github", "acme/metrics")?;
    let token = crate::github_token(91);
    repo.commit("a.env", &format!("TOKEN={token}\n"))?;
    let (before, after) = repo.push()?;
    assert_eq!(service.deliver("github", "push", "m-1", &repo.event(&before, &after))?.0, 202);
    service.wait("the key revoked", || !world.fake.state().revoked.is_empty())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = leakgate_store::Store::connect_without_migrating(&world.database_url()).await?;
        store.audit("hook_bypass", "dev", "{}").await
    })?;
    let mut metrics = String::new();
    service.wait("every family sampled", || {
        metrics = service.get("/metrics").map(|(_, m)| m).unwrap_or_default();
        metrics.contains("leakgate_revocations_total") && metrics.contains("leakgate_reports_total")
    })?;
    let mut names = Vec::new();
    for panel in dashboard["panels"].as_array().ok_or("panels")? {
        for target in panel["targets"].as_array().ok_or("targets")? {
            let expr = target["expr"].as_str().ok_or("expr")?;
            let mut rest = expr;
            while let Some(at) = rest.find("leakgate_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                names.push(name);
            }
        }
    }
    assert!(names.len() >= 14, "{names:?}");
    for name in names {
        let family = ["_bucket", "_total", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("# TYPE {family} "))),
            "the dashboard queries {name}, which /metrics does not have"
        );
    }
    Ok(())
}
