//! The provider registry: every provider a rule's `revoke` field can name, what it needs, its
//! public API base and its call. The calls live in modules by the shape of their contract:
//! [`super::github`], [`super::aws`], [`super::bearer`] (the token revokes itself) and
//! [`super::listing`] (the token finds itself in a list, then is deleted).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{aws, bearer, github, listing, Attempt, Outcome, ProviderConfig};

/// What a provider call gets.
pub struct Call {
    /// The secret, trimmed (wiped from memory when the call ends).
    pub secret: Zeroizing<String>,
    /// The API base, without a trailing slash.
    pub base: String,
    /// Whether non-public destinations are allowed.
    pub allow_internal: bool,
    /// Time limit of the call.
    pub timeout: Duration,
    /// The provider's settings (credentials of leakgate's own, region).
    pub settings: ProviderConfig,
}

type Revoke = fn(Call) -> Pin<Box<dyn Future<Output = Attempt> + Send>>;

/// A revocation provider.
pub struct Provider {
    /// Its name, as in rules' `revoke` field and `[revoke.<name>]`.
    pub name: &'static str,
    /// Its public API base.
    pub default_base: &'static str,
    /// What it needs, for `leakgate revoke --help` and the docs.
    pub needs: &'static str,
    /// The call.
    pub revoke: Revoke,
}

/// Every provider leakgate knows, implemented or not.
pub static PROVIDERS: &[Provider] = &[
    Provider {
        name: "github",
        default_base: "https://api.github.com",
        needs: "the token alone",
        revoke: |c| Box::pin(github::github(c)),
    },
    Provider {
        name: "gitlab",
        default_base: "https://gitlab.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::gitlab(c)),
    },
    Provider {
        name: "slack",
        default_base: "https://slack.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::slack(c)),
    },
    Provider {
        name: "crates-io",
        default_base: "https://crates.io",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::crates_io(c)),
    },
    Provider {
        name: "vercel",
        default_base: "https://api.vercel.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::vercel(c)),
    },
    Provider {
        name: "buildkite",
        default_base: "https://api.buildkite.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::buildkite(c)),
    },
    Provider {
        name: "discord",
        default_base: "https://discord.com",
        needs: "the webhook URL",
        revoke: |c| Box::pin(bearer::discord(c)),
    },
    Provider {
        name: "doppler",
        default_base: "https://api.doppler.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::doppler(c)),
    },
    Provider {
        name: "aws",
        default_base: "https://iam.amazonaws.com",
        needs: "the key id with its secret (a key id alone never deactivates a key)",
        revoke: |c| Box::pin(aws::aws(c)),
    },
    Provider {
        name: "google",
        default_base: "https://oauth2.googleapis.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::google(c)),
    },
    Provider {
        name: "digitalocean",
        default_base: "https://cloud.digitalocean.com",
        needs: "the token alone",
        revoke: |c| Box::pin(bearer::digitalocean(c)),
    },
    Provider {
        name: "heroku",
        default_base: "https://api.heroku.com",
        needs: "the token alone",
        revoke: |c| Box::pin(listing::heroku(c)),
    },
    Provider {
        name: "cloudflare",
        default_base: "https://api.cloudflare.com",
        needs: "the token alone",
        revoke: |c| Box::pin(listing::cloudflare(c)),
    },
    Provider {
        name: "npm",
        default_base: "https://registry.npmjs.org",
        needs: "the token alone",
        revoke: |c| Box::pin(listing::npm(c)),
    },
    Provider {
        name: "partner",
        default_base: "",
        needs: "the token, sent to the internal endpoint [partner.types.<type>] names",
        revoke: |c| Box::pin(bearer::partner(c)),
    },
    Provider {
        name: "huggingface",
        default_base: "https://huggingface.co",
        needs: "nothing: no published revocation API",
        revoke: |_| Box::pin(no_api("invalidate it at https://huggingface.co/settings/tokens")),
    },
    Provider {
        name: "postman",
        default_base: "https://api.getpostman.com",
        needs: "nothing: no published revocation API",
        revoke: |_| {
            Box::pin(no_api(
            "revoke it at https://go.postman.co/settings/me/api-keys (team admins: Manage Postman Keys)",
        ))
        },
    },
];

/// The provider called `name`.
pub fn provider(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// A provider that publishes no API to revoke its keys: the attempt says where to do it.
async fn no_api(where_to: &'static str) -> Attempt {
    Attempt::without_answer(
        Outcome::Unsupported,
        format!("the provider publishes no revocation API; {where_to}"),
    )
}
