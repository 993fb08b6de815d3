//! AWS IAM: `UpdateAccessKey` to `Inactive` over the Query API, signed with SigV4.

use reqwest::Method;
use zeroize::Zeroizing;

use super::http::{classify, code, form_body, send, sent, Reply};
use super::providers::Call;
use super::{Attempt, Outcome};

/// AWS IAM: `UpdateAccessKey` to `Inactive` (Query API, SigV4 for service `iam`), only with
/// the leaked pair (the key id and its secret, as `ID\nSECRET`): a key id alone is public
/// information (it is in every signed request and CloudTrail log), so it never deactivates a
/// key: anyone could push a production key's id to turn production off. The pair first
/// tries to deactivate itself; if IAM authenticated it but refused the action
/// (`AccessDenied`: the pair is proven to be a live key), `[revoke.aws]` credentials find its
/// user (`GetAccessKeyLastUsed`) and deactivate it. A pair whose secret is not the key's
/// (`SignatureDoesNotMatch`) proves nothing and deactivates nothing. `NoSuchEntity`, and
/// `InvalidClientTokenId` for the leaked key itself, mean the key is dead already; leakgate's
/// own credentials being refused is a permanent failure, not a dead key.
pub(super) async fn aws(call: Call) -> Attempt {
    let mut parts = call.secret.split('\n').map(str::trim);
    let key_id = parts.next().unwrap_or("").to_owned();
    let pair_secret = parts.next().filter(|s| !s.is_empty()).map(|s| Zeroizing::new(s.to_owned()));
    if !key_id.starts_with("AKIA") || key_id.len() != 20 {
        return Attempt::without_answer(
            Outcome::Unsupported,
            "only long-term IAM user keys (AKIA...) can be deactivated, with their key id",
        );
    }
    let Some(secret) = &pair_secret else {
        return Attempt::without_answer(Outcome::Unsupported, ID_ALONE);
    };
    let region = call.settings.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
    let deactivate =
        [("Action", "UpdateAccessKey"), ("AccessKeyId", key_id.as_str()), ("Status", "Inactive")];
    let reply = sent!(aws_query(&call, IAM, &region, &key_id, secret, &deactivate).await);
    let attempt = aws_classify(&reply, Signer::Leaked);
    if attempt.summary.ends_with("SignatureDoesNotMatch") {
        return Attempt {
            outcome: Outcome::Unsupported,
            summary: "the secret found with the key id is not its secret (SignatureDoesNotMatch): \
                      nothing proves the key leaked, so it is not deactivated"
                .into(),
            ..attempt
        };
    }
    if !attempt.summary.ends_with("AccessDenied") {
        return attempt;
    }
    let (Some(admin_id), Some(admin_secret)) = (
        call.settings.access_key_id.clone(),
        call.settings.secret_access_key.as_ref().filter(|s| s.is_set()),
    ) else {
        return Attempt::without_answer(
            Outcome::FailedPermanent,
            "the leaked pair is live but may not deactivate itself (AccessDenied), and \
             [revoke.aws] has no credentials: deactivate it in IAM",
        );
    };
    let admin_secret = Zeroizing::new(admin_secret.expose().to_owned());
    let params = [("Action", "GetAccessKeyLastUsed"), ("AccessKeyId", key_id.as_str())];
    let reply = sent!(aws_query(&call, IAM, &region, &admin_id, &admin_secret, &params).await);
    if reply.status != 200 || reply.html {
        return aws_classify(&reply, Signer::Configured);
    }
    let Some(user) = xml_text(&reply.text, "UserName") else {
        return Attempt {
            outcome: Outcome::FailedRetryable,
            status: Some(200),
            summary: "GetAccessKeyLastUsed answered without a UserName".into(),
            retry_after: None,
        };
    };
    let mut params = deactivate.to_vec();
    params.push(("UserName", user.as_str()));
    let reply = sent!(aws_query(&call, IAM, &region, &admin_id, &admin_secret, &params).await);
    aws_classify(&reply, Signer::Configured)
}

/// Why a key id found alone is not deactivated.
pub(super) const ID_ALONE: &str = "the key id was found without its secret: a key id alone never \
    deactivates a key (anyone can push one); deactivate it in IAM if it is yours";

/// Whose credentials signed an IAM call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signer {
    /// The leaked key itself.
    Leaked,
    /// `[revoke.aws]`.
    Configured,
}

/// An AWS Query API: the signing name and the API version every call carries.
pub(crate) struct QueryApi {
    service: &'static str,
    version: &'static str,
}

/// IAM's Query API.
const IAM: QueryApi = QueryApi { service: "iam", version: "2010-05-08" };
/// STS's Query API (`GetCallerIdentity`, which needs no permission).
pub(crate) const STS: QueryApi = QueryApi { service: "sts", version: "2011-06-15" };

/// One signed Query API call (IAM, STS) to `call.base`.
pub(crate) async fn aws_query(
    call: &Call,
    api: QueryApi,
    region: &str,
    key_id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> Result<Reply, Attempt> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("Version", api.version));
    let body = form_body(&form);
    let url = format!("{}/", call.base);
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let identity =
        aws_credential_types::Credentials::new(key_id, secret, None, None, "leakgate").into();
    let signed = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(api.service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Attempt::without_answer(Outcome::FailedPermanent, format!("signing: {e}")))
        .and_then(|params| {
            let request = SignableRequest::new(
                "POST",
                &url,
                [("content-type", content_type)].into_iter(),
                SignableBody::Bytes(body.as_bytes()),
            )
            .map_err(|e| {
                Attempt::without_answer(Outcome::FailedPermanent, format!("signing: {e}"))
            })?;
            sign(request, &params.into()).map(|s| s.into_parts().0).map_err(|e| {
                Attempt::without_answer(Outcome::FailedPermanent, format!("signing: {e}"))
            })
        })?;
    let headers: Vec<(String, String)> =
        signed.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    send(call, Method::POST, &url, |mut r| {
        for (k, v) in &headers {
            r = r.header(k.as_str(), v.as_str());
        }
        r.header("content-type", content_type).body(body.clone())
    })
    .await
}

/// IAM's answers: 200 is done; the error `Code` decides the rest. The summary ends with the
/// code.
fn aws_classify(reply: &Reply, signer: Signer) -> Attempt {
    if reply.status == 200 && !reply.html {
        return Attempt {
            outcome: Outcome::Revoked,
            status: Some(200),
            summary: "HTTP 200: the key is Inactive".into(),
            retry_after: None,
        };
    }
    let code = code(&xml_text(&reply.text, "Code").unwrap_or_default());
    let outcome = match code.as_str() {
        "NoSuchEntity" => Outcome::AlreadyInvalid,
        "InvalidClientTokenId" if signer == Signer::Leaked => Outcome::AlreadyInvalid,
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "AccessDenied" => {
            Outcome::FailedPermanent
        }
        "Throttling" | "ServiceUnavailable" | "InternalFailure" | "RequestExpired" => {
            Outcome::FailedRetryable
        }
        _ => return classify(reply, &[], &[]),
    };
    let whose = if signer == Signer::Configured { "[revoke.aws] credentials: " } else { "" };
    Attempt {
        outcome,
        status: Some(reply.status),
        summary: format!("HTTP {}: {whose}{code}", reply.status),
        retry_after: reply.retry_after,
    }
}

/// The text of the first `<tag>` element (IAM's and STS's XML answers are flat and unescaped where
/// leakgate reads them: user names and error codes).
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim().to_owned()).filter(|s| !s.is_empty())
}
