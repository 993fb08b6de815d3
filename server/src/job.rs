//! The job queue's payloads, typed: one enum for every kind of job. Each variant knows its
//! kind's name, its payload's JSON and its idempotency key (what makes two enqueues one job),
//! so that no caller writes a kind or a key by hand.

use leakgate_store::{Job, NewJob};
use serde::{Deserialize, Serialize};

use crate::event::Push;

/// Attempts of a `revoke` job: more than the provider calls a revocation gets
/// ([`crate::revoke::run::MAX_ATTEMPTS`]), so that a database hiccup does not end a
/// revocation that still has calls left.
const REVOKE_ATTEMPTS: i64 = 12;

/// What a job does.
#[derive(Clone, Debug)]
pub enum Work {
    /// Scan a push delivered by a forge.
    Push(Push),
    /// Send (or report) the revocation of a secret.
    Revoke(Revoke),
    /// Scan a push the pre-receive hook let through unscanned.
    Rescan(Rescan),
    /// Ask a secret's provider whether it is live.
    Validate(Validate),
    /// Respond to a GitHub secret scanning alert.
    Alert(crate::event::Alert),
    /// Fan an event out to the notification targets that take it.
    Notify(crate::notify::Event),
    /// Send an event to one notification target.
    Deliver(Deliver),
}

/// A `deliver` job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Deliver {
    /// The target's name (`[notify.<name>]`).
    pub target: String,
    /// What to send.
    pub event: crate::notify::Event,
}

/// A `validate` job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Validate {
    /// The secret's fingerprint.
    pub fingerprint: String,
    /// Why the job exists (part of its key and of its payload: the job acts on it).
    #[serde(default)]
    pub round: Round,
}

/// Why a validation runs: each reason has a key of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Round {
    /// A scan found the secret: one job per secret.
    #[default]
    Found,
    /// The scheduled check after this many checks: one job per round.
    Recheck(i64),
    /// Someone asked (`POST /api/findings/{id}/validate`): a fresh job each time.
    Requested,
}

/// A `revoke` job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Revoke {
    /// The secret's fingerprint.
    pub fingerprint: String,
    /// Why the job exists (part of its key, not of its payload).
    #[serde(skip)]
    pub trigger: Trigger,
}

/// Why a revocation is sent: each reason has a key of its own, so that an earlier job does
/// not hide a later one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Trigger {
    /// A scan found the secret and the policy sends it at once: one job per secret.
    #[default]
    Found,
    /// A person approved it: a fresh job each time.
    Approved,
    /// The sweep found it stalled since this time (ms): one job per stall.
    Stalled(i64),
}

/// A scan the pre-receive hook could not finish within its budget (fail-open): the service
/// fetches the pushed commits from the git server and scans them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rescan {
    /// Repository name for records.
    pub repo: String,
    /// The repository on the git server (written by the hook, never by a payload).
    pub url: String,
    /// The ref updates: `(ref, before, after)`.
    pub updates: Vec<(String, String, String)>,
    /// Who pushed.
    pub pusher: String,
}

impl Work {
    /// The kind's name in the queue.
    pub fn kind(&self) -> &'static str {
        match self {
            Work::Push(_) => "push",
            Work::Revoke(_) => "revoke",
            Work::Rescan(_) => "rescan",
            Work::Validate(_) => "validate",
            Work::Alert(_) => "alert",
            Work::Notify(_) => "notify",
            Work::Deliver(_) => "deliver",
        }
    }

    /// The key that makes two enqueues of the same work one job.
    pub fn idempotency_key(&self) -> String {
        match self {
            Work::Push(p) => {
                format!("push:{}:{}:{}:{}:{}", p.forge.name(), p.repo, p.git_ref, p.before, p.after)
            }
            Work::Revoke(r) => match r.trigger {
                Trigger::Found => format!("revoke:{}", r.fingerprint),
                Trigger::Approved => format!("revoke:{}:manual:{}", r.fingerprint, nonce()),
                Trigger::Stalled(since) => format!("revoke:{}:sweep:{since}", r.fingerprint),
            },
            Work::Rescan(r) => {
                let updates: Vec<String> = r
                    .updates
                    .iter()
                    .map(|(name, old, new)| format!("{old} {new} {name}"))
                    .collect();
                format!("rescan:{}:{}", r.repo, updates.join(","))
            }
            Work::Alert(a) => format!("alert:{}:{}:{}", a.repo, a.number, a.action),
            Work::Notify(e) => format!("notify:{}", e.key()),
            Work::Deliver(d) => format!("deliver:{}:{}", d.target, d.event.key()),
            Work::Validate(v) => match v.round {
                Round::Found => format!("validate:{}", v.fingerprint),
                Round::Recheck(checks) => format!("validate:{}:check:{checks}", v.fingerprint),
                Round::Requested => format!("validate:{}:asked:{}", v.fingerprint, nonce()),
            },
        }
    }

    /// The job to enqueue.
    pub fn job(&self) -> NewJob {
        let payload = match self {
            Work::Push(p) => serde_json::to_string(p),
            Work::Revoke(r) => serde_json::to_string(r),
            Work::Rescan(r) => serde_json::to_string(r),
            Work::Validate(v) => serde_json::to_string(v),
            Work::Alert(a) => serde_json::to_string(a),
            Work::Notify(e) => serde_json::to_string(e),
            Work::Deliver(d) => serde_json::to_string(d),
        }
        .unwrap_or_default();
        let mut job = NewJob::new(self.kind(), &payload).key(&self.idempotency_key());
        if let Work::Revoke(_) = self {
            job.max_attempts = REVOKE_ATTEMPTS;
        }
        job
    }

    /// The work of a claimed job.
    ///
    /// # Errors
    ///
    /// An unknown kind, or a payload that is not of its kind.
    pub fn of(job: &Job) -> Result<Work, String> {
        let bad = |e: serde_json::Error| format!("unreadable {} payload: {e}", job.kind);
        match job.kind.as_str() {
            "push" => serde_json::from_str(&job.payload).map(Work::Push).map_err(bad),
            "revoke" => serde_json::from_str(&job.payload).map(Work::Revoke).map_err(bad),
            "rescan" => serde_json::from_str(&job.payload).map(Work::Rescan).map_err(bad),
            "validate" => serde_json::from_str(&job.payload).map(Work::Validate).map_err(bad),
            "alert" => serde_json::from_str(&job.payload).map(Work::Alert).map_err(bad),
            "notify" => serde_json::from_str(&job.payload).map(Work::Notify).map_err(bad),
            "deliver" => serde_json::from_str(&job.payload).map(Work::Deliver).map_err(bad),
            other => Err(format!("unknown job kind {other:?}")),
        }
    }
}

/// Random hex that makes a key unique (each approval or request is a job of its own).
fn nonce() -> String {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    hex::encode(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Forge;

    #[test]
    fn every_kind_round_trips_and_owns_its_key() {
        let push = Push {
            forge: Forge::Gitea,
            repo: "o/r".into(),
            project_id: None,
            private: Some(true),
            git_ref: "refs/heads/main".into(),
            before: "1".repeat(40),
            after: "2".repeat(40),
            pusher: "dev".into(),
            default_branch: None,
            received_at: None,
            installation_id: None,
        };
        let revoke = |trigger| Work::Revoke(Revoke { fingerprint: "ab".into(), trigger });
        let rescan = Work::Rescan(Rescan {
            repo: "/srv/git/r.git".into(),
            url: "/srv/git/r.git".into(),
            updates: vec![("refs/heads/main".into(), "1".repeat(40), "2".repeat(40))],
            pusher: "dev".into(),
        });
        let validate = |round| Work::Validate(Validate { fingerprint: "ab".into(), round });
        for work in [Work::Push(push), revoke(Trigger::Found), rescan, validate(Round::Found)] {
            let new = work.job();
            let job = Job {
                id: 1,
                kind: new.kind.clone(),
                payload: new.payload.clone(),
                attempts: 1,
                max_attempts: new.max_attempts,
                state: leakgate_store::JobState::Running,
                last_error: None,
            };
            let back = Work::of(&job).expect("round trip");
            assert_eq!(back.kind(), work.kind());
            assert_eq!(back.job().payload, new.payload);
            assert_eq!(new.idempotency_key.as_deref(), Some(work.idempotency_key().as_str()));
        }
        assert_eq!(revoke(Trigger::Found).idempotency_key(), "revoke:ab");
        assert_ne!(
            revoke(Trigger::Approved).idempotency_key(),
            revoke(Trigger::Approved).idempotency_key(),
            "each approval is a job of its own"
        );
        assert_eq!(revoke(Trigger::Stalled(7)).idempotency_key(), "revoke:ab:sweep:7");
        assert_eq!(revoke(Trigger::Found).job().max_attempts, REVOKE_ATTEMPTS);
        assert_eq!(validate(Round::Found).idempotency_key(), "validate:ab");
        // The round travels with the job: a recheck runs as a recheck.
        let job = validate(Round::Recheck(3)).job();
        let back = Work::of(&Job {
            id: 1,
            kind: job.kind,
            payload: job.payload,
            attempts: 1,
            max_attempts: 5,
            state: leakgate_store::JobState::Running,
            last_error: None,
        });
        assert!(matches!(back, Ok(Work::Validate(Validate { round: Round::Recheck(3), .. }))));
        assert_eq!(validate(Round::Recheck(3)).idempotency_key(), "validate:ab:check:3");
        assert_ne!(
            validate(Round::Requested).idempotency_key(),
            validate(Round::Requested).idempotency_key()
        );
        let unknown = Job {
            id: 1,
            kind: "mine".into(),
            payload: "{}".into(),
            attempts: 1,
            max_attempts: 1,
            state: leakgate_store::JobState::Running,
            last_error: None,
        };
        assert!(Work::of(&unknown).unwrap_err().contains("unknown job kind"));
    }
}
