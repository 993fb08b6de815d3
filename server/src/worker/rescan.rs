//! A `rescan` job: a push the pre-receive hook let through unscanned (fail-open) is fetched
//! from the git server's own repository and scanned; findings are recorded and audited.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use leakgate_store::NewScan;

use crate::job::Rescan;

use super::{fetch_and_scan, mark_scanned, record_scan, Context, JobError};
use crate::mirror::Source;

pub(super) async fn run(
    ctx: &Arc<Context>,
    job: i64,
    rescan: &Rescan,
    cancel: &Arc<AtomicBool>,
) -> Result<(), JobError> {
    for (git_ref, before, after) in &rescan.updates {
        if crate::event::is_zero(after) {
            continue;
        }
        let scanned = fetch_and_scan(
            ctx,
            ("hook", &rescan.repo),
            Source::Local(PathBuf::from(&rescan.url)),
            (git_ref, before, after),
            // What the hook would have scanned: every rule (the hook's own project settings
            // are not the service's to know).
            (None, rescan.received_at),
            cancel,
        )
        .await?;
        let complete = scanned.stats.complete;
        // Without the key the ref may be named after (the hook withholds it already).
        let git_ref = &scanned.git_ref;
        let scan = NewScan {
            repo: rescan.repo.clone(),
            refs: git_ref.clone(),
            before: Some(before.clone()),
            after: Some(after.clone()),
            pusher: Some(rescan.pusher.clone()),
            source: "rescan".into(),
            job_key: Some(format!("job:{job}:{git_ref}")),
        };
        let recorded = record_scan(ctx, scan, scanned.findings, complete).await?;
        if !recorded.findings.is_empty() {
            let detail = serde_json::json!({
                "scan": recorded.scan, "repo": rescan.repo, "ref": git_ref,
                "findings": recorded.findings.len() + recorded.omitted,
                "fingerprints": recorded.findings.iter().map(|f| f.fingerprint.as_str()).collect::<Vec<_>>(),
            });
            ctx.store.audit("rescan_findings", &rescan.pusher, &detail.to_string()).await?;
            tracing::warn!(
                repo = rescan.repo,
                git_ref,
                findings = recorded.findings.len() + recorded.omitted,
                "a fail-open push carried secrets"
            );
        }
        if !complete {
            return Err(JobError::Retry(format!(
                "the rescan's time limit was reached with {} blobs unscanned",
                scanned.stats.unscanned
            )));
        }
        mark_scanned(ctx, "hook", &rescan.repo, git_ref, after).await?;
    }
    Ok(())
}
