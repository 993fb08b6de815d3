//! Validation in the service: planned per new secret (its encrypted material kept while it
//! may be checked), run as `validate` jobs paced per provider across replicas, recorded and
//! audited, checked again on a schedule, and feeding the revocation gate.

use std::time::Duration;

use leakgate_rules::Finding;
use leakgate_store::{Error, NewValidation, RevocationState as State, SecretKey, Store};

use super::{Check, ValidateConfig, Validity};
use crate::job::{Round, Work};
use crate::revoke::run::Origin;
use crate::revoke::{Policy, RevokeConfig};

/// A revocation's summary while `[revoke] require_valid` waits for the key's validation.
pub const AWAITING_VALIDATION: &str = "waiting for live validation ([revoke] require_valid)";
/// A revocation's summary under `[revoke] require_valid` when no validator checks the key.
pub const NO_VALIDATION: &str =
    "no live validation for this kind of key ([revoke] require_valid): a person decides";

/// The job that validates `fingerprint` for `round`.
pub fn job(fingerprint: &str, round: Round) -> leakgate_store::NewJob {
    Work::Validate(crate::job::Validate { fingerprint: fingerprint.to_owned(), round }).job()
}

/// Plans a validation for each secret among `findings` that a validator checks and that has
/// none yet: its encrypted material and a `validate` job. Returns how many were queued.
///
/// # Errors
///
/// A database error.
pub async fn plan(
    store: &Store,
    key: &SecretKey,
    config: &ValidateConfig,
    origin: &Origin,
    findings: &[(&Finding, Option<i64>)],
) -> Result<usize, Error> {
    if !config.enabled {
        return Ok(0);
    }
    let context = serde_json::to_string(origin).unwrap_or_default();
    let mut queued = 0;
    for (finding, id) in findings {
        let Some(validator) = super::for_rule(&finding.rule_id) else { continue };
        let fingerprint = finding.fingerprint.as_str();
        let fresh = store
            .add_validation(&NewValidation {
                fingerprint: fingerprint.to_owned(),
                validator: validator.name.to_owned(),
                rule_id: finding.rule_id.clone(),
                finding_id: *id,
                context: context.clone(),
            })
            .await?;
        if !fresh {
            continue;
        }
        // The key id with its secret for AWS, as revocation sends it; an AWS half alone is
        // still planned (the key id's account is a fact known offline).
        let material = crate::revoke::run::material(finding, findings)
            .unwrap_or_else(|| finding.secret.expose().to_vec());
        store.put_secret(key, fingerprint, &zeroize::Zeroizing::new(material)).await?;
        store.enqueue(&job(fingerprint, Round::Found)).await?;
        queued += 1;
    }
    Ok(queued)
}

/// What a validation job did.
#[derive(Debug)]
pub enum Step {
    /// Recorded (or nothing to do); `true` when the secret's issues should show it.
    Done(bool),
    /// Run again after this delay without counting an attempt (pacing, `Retry-After`).
    Later(Duration, String),
}

/// Runs the validation of `fingerprint`: the check (unless the key is settled already), the
/// record, the next round, and the revocation gate.
pub struct Validator<'a> {
    /// The store.
    pub store: &'a Store,
    /// Decrypts the material.
    pub key: &'a SecretKey,
    /// `[validate]`.
    pub config: &'a ValidateConfig,
    /// `[revoke]`.
    pub revoke: &'a RevokeConfig,
    /// Who checks (audit actor).
    pub worker: &'a str,
}

impl Validator<'_> {
    /// Runs one round; with the check it made, the validator that made it.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn run(
        &self,
        fingerprint: &str,
        round: Round,
    ) -> Result<(Step, Option<(Check, String)>), Error> {
        let store = self.store;
        let Some(row) = store.validation(fingerprint).await? else {
            return Ok((Step::Done(false), None));
        };
        let settled = Validity::parse(&row.state)
            .is_some_and(|v| v.is_dead() || matches!(v, Validity::Canary | Validity::NotCheckable));
        match round {
            // The first round ran its check already (this is its retry, after the issue was
            // busy): only the report is left, never a second call.
            Round::Found if row.checks > 0 => return Ok((Step::Done(true), None)),
            // A scheduled round that is stale, or after the key was settled, does nothing.
            Round::Recheck(checks) if checks != row.checks || settled => {
                return Ok((Step::Done(false), None))
            }
            // Asked again about a settled key whose material is gone: the answer stands.
            Round::Requested if settled && !store.has_secret(fingerprint).await? => {
                return Ok((Step::Done(true), None))
            }
            _ => {}
        }
        let check = self.check(fingerprint, &row).await?;
        let check = match check {
            Err(later) => return Ok((later, None)),
            Ok(check) => check,
        };
        // 429: wait as the provider asked, without recording an answer that says nothing.
        if check.validity == Validity::Unknown {
            if let Some(after) = check.retry_after {
                return Ok((Step::Later(after, check.summary), None));
            }
        }
        let next = self.next_check(check.validity);
        store
            .record_validation(
                fingerprint,
                check.validity.as_str(),
                check.status.map(i64::from),
                &check.summary,
                next.map(|d| {
                    leakgate_store::now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
                }),
                self.worker,
            )
            .await?;
        if let Some(delay) = next {
            let mut again = job(fingerprint, Round::Recheck(row.checks + 1));
            again.delay = delay;
            store.enqueue(&again).await?;
        }
        self.gate(fingerprint, check.validity).await?;
        let final_check = check.validity.is_dead()
            || matches!(check.validity, Validity::Canary | Validity::NotCheckable);
        if final_check {
            // Never checked again: the material has no further use here.
            if store.revocation(fingerprint).await?.is_none_or(|r| r.state.is_final()) {
                store.wipe_secret(fingerprint).await?;
            }
        }
        Ok((Step::Done(true), Some((check, row.validator))))
    }

    /// The check itself, or the step to take instead (pacing).
    async fn check(
        &self,
        fingerprint: &str,
        row: &leakgate_store::Validation,
    ) -> Result<Result<Check, Step>, Error> {
        let store = self.store;
        let Some(validator) = super::validator(&row.validator) else {
            return Ok(Ok(Check::offline(Validity::NotCheckable, "unknown validator")));
        };
        // A key leakgate revoked needs no call.
        if let Some(r) = store.revocation(fingerprint).await? {
            if matches!(r.state, State::Revoked | State::AlreadyInvalid) {
                let why = format!("{} via {}", r.state.as_str(), r.provider);
                return Ok(Ok(Check::offline(Validity::Revoked, why)));
            }
        }
        let secret = match store.get_secret(self.key, fingerprint).await {
            Ok(secret) => secret,
            Err(Error::NotFound) => {
                return Ok(Ok(Check::offline(
                    Validity::NotCheckable,
                    "the secret material is gone (expired)",
                )))
            }
            Err(Error::Decrypt { .. }) => {
                return Ok(Ok(Check::offline(
                    Validity::NotCheckable,
                    "the secret material does not decrypt (the encryption key changed)",
                )))
            }
            Err(e) => return Err(e),
        };
        let origin: Origin = serde_json::from_str(&row.context).unwrap_or_default();
        let base = match self.config.destination(validator, origin.forge, false) {
            Ok(base) => base,
            Err(why) => return Ok(Ok(Check::offline(Validity::NotCheckable, why))),
        };
        let lane = format!("validate:{}", validator.name);
        if let Some(wait) = store.pace(&lane, self.config.interval(validator.name)).await? {
            let why = format!("{} is paced", validator.name);
            return Ok(Err(Step::Later(wait.max(Duration::from_millis(100)), why)));
        }
        let settings = self.config.provider(validator.name);
        Ok(Ok(super::validate(validator, &secret, &settings, base, self.config.timeout()).await))
    }

    /// When to check again: a live key (it may be revoked later) or one whose answer said
    /// nothing (an hour at most), on the `recheck_hours` schedule; never a settled one.
    fn next_check(&self, validity: Validity) -> Option<Duration> {
        let every = Duration::from_secs(self.config.recheck_hours.saturating_mul(3600));
        match validity {
            _ if every.is_zero() => None,
            Validity::Valid => Some(every),
            Validity::Unknown => Some(every.min(Duration::from_secs(3600))),
            _ => None,
        }
    }

    /// The revocation gate: an automatic revocation held for review (by `require_valid`, or
    /// because no checksum confirmed the key) is sent once the key validated live, since a
    /// key its provider accepts is a real one; one whose key is dead is settled without a
    /// call. Manual and off policies stay a person's decision.
    async fn gate(&self, fingerprint: &str, validity: Validity) -> Result<(), Error> {
        let store = self.store;
        let Some(row) = store.revocation(fingerprint).await? else { return Ok(()) };
        if row.state != State::Review || self.revoke.provider(&row.provider).policy != Policy::Auto
        {
            return Ok(());
        }
        if validity == Validity::Valid {
            if store
                .move_revocation(fingerprint, &[State::Review], State::Queued, "validated live")
                .await?
            {
                store.enqueue(&crate::revoke::run::job(fingerprint, false)).await?;
            }
        } else if validity.is_dead() {
            let why = format!("not sent: validation says the key is {}", validity.as_str());
            if store
                .move_revocation(fingerprint, &[State::Review], State::AlreadyInvalid, &why)
                .await?
            {
                store.wipe_secret(fingerprint).await?;
            }
        }
        Ok(())
    }
}
