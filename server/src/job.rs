//! The job queue's payloads, typed: one enum for every kind of job. Each variant knows its
//! kind's name, its payload's JSON and its idempotency key (what makes two enqueues one job),
//! so that no caller writes a kind or a key by hand.

use leakgate_store::{Job, NewJob, SecretKey};
use serde::{Deserialize, Serialize};

use crate::event::Push;

/// Attempts of a `revoke` job: more than the provider calls a revocation gets
/// ([`crate::revoke::run::MAX_ATTEMPTS`]), so that a database hiccup does not end a
/// revocation that still has calls left.
const REVOKE_ATTEMPTS: i64 = 12;

/// What starts a sealed payload ([`Work::push_job`]); JSON never does.
const SEALED: &str = "sealed:";

/// The context a push job's payload and ref name digest are bound to.
const PUSH_CONTEXT: &str = "leakgate job push";

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
    /// When the hook recorded the push (ms since the epoch): what was scanned after it does
    /// not count for this push's new refs (see `fetch_and_scan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<i64>,
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

    /// The job to enqueue, its payload as JSON. A push that a forge delivered is queued with
    /// [`Work::push_job`] instead, which seals it.
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

    /// The job that scans `push`, sealed under `key`: the ref name is the pusher's to choose
    /// and may be a key, so the payload is encrypted ([`SecretKey::seal`]) and the
    /// idempotency key holds a keyed digest of the name, never the name (the queue is kept in
    /// the database, and in the spool while the database is away).
    ///
    /// # Errors
    ///
    /// No randomness for the encryption.
    pub fn push_job(push: &Push, key: &SecretKey) -> Result<NewJob, String> {
        let plain = serde_json::to_string(push).map_err(|e| e.to_string())?;
        let sealed = key.seal(PUSH_CONTEXT, plain.as_bytes())?;
        let idempotency = format!(
            "push:{}:{}:{}:{}:{}",
            push.forge.name(),
            push.repo,
            key.digest(PUSH_CONTEXT, push.git_ref.as_bytes()),
            push.before,
            push.after
        );
        Ok(NewJob::new("push", &format!("{SEALED}{sealed}")).key(&idempotency))
    }

    /// The work of a claimed job; a sealed payload is opened with `key`.
    ///
    /// # Errors
    ///
    /// An unknown kind, a payload that is not of its kind, or a sealed one that does not open
    /// under `key` (another key, or altered).
    pub fn of(job: &Job, key: &SecretKey) -> Result<Work, String> {
        let bad = |e: serde_json::Error| format!("unreadable {} payload: {e}", job.kind);
        let opened;
        let payload = match job.payload.strip_prefix(SEALED) {
            Some(sealed) => {
                opened = key.open(PUSH_CONTEXT, sealed).ok_or_else(|| {
                    format!("the {} job's payload does not open under the encryption key", job.kind)
                })?;
                std::str::from_utf8(&opened)
                    .map_err(|_| format!("the {} job's payload is not text", job.kind))?
            }
            None => job.payload.as_str(),
        };
        match job.kind.as_str() {
            "push" => serde_json::from_str(payload).map(Work::Push).map_err(bad),
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
            received_at: Some(7),
        });
        let validate = |round| Work::Validate(Validate { fingerprint: "ab".into(), round });
        let key = SecretKey::new([7; 32]);
        for work in [revoke(Trigger::Found), rescan, validate(Round::Found)] {
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
            let back = Work::of(&job, &key).expect("round trip");
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
        let back = Work::of(&claimed(job), &key);
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
        assert!(Work::of(&unknown, &key).unwrap_err().contains("unknown job kind"));
        // A push as a forge delivered it: sealed, and the ref name nowhere in the clear.
        let job = Work::push_job(&push, &key).expect("sealed");
        assert_eq!(job.kind, "push");
        let back = Work::of(&claimed(job.clone()), &key);
        assert!(matches!(back, Ok(Work::Push(p)) if p.git_ref == "refs/heads/main"));
        let keyed = job.idempotency_key.clone().expect("keyed");
        assert_eq!(Work::push_job(&push, &key).expect("sealed").idempotency_key, Some(keyed));
    }

    fn claimed(job: NewJob) -> Job {
        Job {
            id: 1,
            kind: job.kind,
            payload: job.payload,
            attempts: 1,
            max_attempts: job.max_attempts,
            state: leakgate_store::JobState::Running,
            last_error: None,
        }
    }

    #[test]
    fn a_push_job_keeps_no_ref_name_in_the_clear() {
        let token = "ghp_".to_owned() + &"A1b2".repeat(9);
        let push = Push {
            forge: Forge::Github,
            repo: "o/r".into(),
            project_id: None,
            private: None,
            git_ref: format!("refs/heads/{token}"),
            before: "0".repeat(40),
            after: "2".repeat(40),
            pusher: "dev".into(),
            default_branch: None,
            received_at: None,
            installation_id: None,
        };
        let key = SecretKey::new([1; 32]);
        let job = Work::push_job(&push, &key).expect("sealed");
        let idempotency = job.idempotency_key.clone().expect("keyed");
        for text in [&job.payload, &idempotency] {
            assert!(!text.contains(&token) && !text.contains("refs/heads"), "{text}");
        }
        // Another ref, another key; another encryption key, another digest.
        let other = Push { git_ref: "refs/heads/main".into(), ..push.clone() };
        assert_ne!(
            Work::push_job(&other, &key).expect("sealed").idempotency_key,
            Some(idempotency.clone())
        );
        let elsewhere = SecretKey::new([2; 32]);
        assert_ne!(
            Work::push_job(&push, &elsewhere).expect("sealed").idempotency_key,
            Some(idempotency)
        );
        // Opened only under its key, and not once altered.
        assert!(Work::of(&claimed(job.clone()), &elsewhere).unwrap_err().contains("does not open"));
        let mut altered = job.clone();
        altered
            .payload
            .replace_range(20..21, if &altered.payload[20..21] == "A" { "B" } else { "A" });
        assert!(Work::of(&claimed(altered), &key).is_err());
        // Jobs queued before payloads were sealed still run.
        let plain = Work::Push(push.clone()).job();
        assert!(
            matches!(Work::of(&claimed(plain), &key), Ok(Work::Push(p)) if p.git_ref == push.git_ref)
        );
    }
}
