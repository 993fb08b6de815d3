//! `leakgate validate`: is one key live? The secret is read from standard input, never from
//! the command line.

use anyhow::Result;
use leakgate_server::validate::{self, Validity};

use crate::cli::ValidateArgs;
use crate::Exit;

/// Validates the key on stdin; prints one line with the validity.
///
/// # Errors
///
/// Bad configuration or unreadable standard input; usage errors are [`Exit::Error`].
pub fn run(args: &ValidateArgs) -> Result<Exit> {
    let config = leakgate_server::Config::load(
        crate::serve_cmd::config_file(args.config.as_deref()).as_deref(),
    )?
    .resolve_files()?;
    if args.list {
        for v in validate::VALIDATORS {
            let settings = config.validate.provider(v.name);
            let base = config
                .validate
                .destination(v, None, true)
                .unwrap_or_else(|why| format!("(not checked: {why})"));
            let state = if settings.enabled == Some(false) { "off" } else { "on" };
            println!("{:<13} {state:<3} {base}; rules: {}", v.name, v.rules.join(", "));
        }
        return Ok(Exit::Clean);
    }
    let validator = match (&args.provider, &args.rule) {
        (Some(name), None) => validate::validator(name).ok_or_else(|| {
            let known: Vec<&str> = validate::VALIDATORS.iter().map(|v| v.name).collect();
            format!("unknown provider {name} (known: {})", known.join(", "))
        }),
        (None, Some(rule_id)) => validate::for_rule(rule_id).ok_or_else(|| {
            format!("no validator checks rule {rule_id} (`leakgate validate --list`)")
        }),
        _ => Err("give exactly one of --provider NAME or --rule RULE_ID".to_owned()),
    };
    let validator = match validator {
        Ok(v) => v,
        Err(why) => {
            eprintln!("leakgate: {why}");
            return Ok(Exit::Error);
        }
    };
    let Some(secret) = crate::revoke_cmd::read_secret()? else { return Ok(Exit::Error) };
    let base = match config.validate.destination(validator, None, true) {
        Ok(base) => base,
        Err(why) => {
            println!("not_checkable: {} ({why})", validator.name);
            return Ok(Exit::Unknown);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let check = runtime.block_on(validate::validate(
        validator,
        secret.trim_ascii(),
        &config.validate.provider(validator.name),
        base,
        config.validate.timeout(),
    ));
    println!("{}: {} ({})", check.validity.as_str(), validator.name, check.summary);
    Ok(match check.validity {
        Validity::Valid => Exit::Clean,
        Validity::Invalid | Validity::Revoked | Validity::Expired | Validity::Canary => {
            Exit::Findings
        }
        Validity::Unknown | Validity::NotCheckable => Exit::Unknown,
    })
}
