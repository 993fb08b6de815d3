//! The deployment files are well-formed and name only configuration keys that exist.
//!
//! A test binary of its own: `figment::Jail` sets the manifests' `LEAKGATE_*` variables in
//! this process's environment while it checks them, and any service or hook another test
//! started meanwhile would inherit them (the server suite's browser test once started with
//! `database.url_file = /run/secrets/database_url`). Cargo runs test binaries one at a time.
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use std::path::{Path, PathBuf};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Checks that `LEAKGATE_SECTION__KEY=value` variables are keys of the configuration (the
/// service refuses unknown keys, so this is what it would do at start).
fn check_env(vars: &[(String, String)], origin: &str) {
    figment::Jail::expect_with(|jail| {
        for (name, value) in vars {
            if name.contains("__") {
                jail.set_env(name, value);
            } else {
                assert!(
                    [
                        "LEAKGATE_DATA_DIR",
                        "LEAKGATE_LOG",
                        "LEAKGATE_CONFIG",
                        "LEAKGATE_FINGERPRINT_KEY"
                    ]
                    .contains(&name.as_str()),
                    "{origin}: unknown variable {name}"
                );
            }
        }
        if let Err(e) = leakgate_server::Config::load(None) {
            panic!("{origin}: {e}");
        }
        Ok(())
    });
}

fn yaml(path: &Path) -> serde_norway::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn env_of(container: &serde_norway::Value) -> Vec<(String, String)> {
    container["env"]
        .as_sequence()
        .map(|vars| {
            vars.iter()
                .map(|v| {
                    (
                        v["name"].as_str().unwrap_or("").to_owned(),
                        v["value"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubernetes_manifests_are_well_formed() -> TestResult {
    let dir = deploy().join("kubernetes");
    let kustomization = yaml(&dir.join("kustomization.yaml"));
    let mut kinds = Vec::new();
    for resource in kustomization["resources"].as_sequence().ok_or("resources")? {
        let doc = yaml(&dir.join(resource.as_str().ok_or("resource name")?));
        assert!(
            doc["apiVersion"].is_string() && doc["metadata"]["name"].is_string(),
            "{resource:?}"
        );
        kinds.push(doc["kind"].as_str().ok_or("kind")?.to_owned());
        match doc["kind"].as_str() {
            Some("Deployment") => {
                let spec = &doc["spec"];
                assert!(spec["replicas"].as_u64().is_some_and(|n| n >= 2), "several replicas");
                let pod = &spec["template"]["spec"];
                assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
                let container = &pod["containers"][0];
                assert_eq!(
                    container["livenessProbe"]["httpGet"]["path"].as_str(),
                    Some("/healthz")
                );
                assert_eq!(
                    container["readinessProbe"]["httpGet"]["path"].as_str(),
                    Some("/readyz")
                );
                assert!(container["resources"]["requests"]["cpu"].is_string());
                assert!(container["resources"]["requests"]["memory"].is_string());
                check_env(&env_of(container), "deployment.yaml");
                let grace = pod["terminationGracePeriodSeconds"].as_u64().ok_or("grace")?;
                assert!(grace > 30, "longer than the service's shutdown grace");
                let secret = pod["volumes"]
                    .as_sequence()
                    .ok_or("volumes")?
                    .iter()
                    .any(|v| v["secret"]["secretName"].is_string());
                assert!(secret, "secrets come from a Secret");
            }
            Some("ConfigMap") => {
                let text = doc["data"]["leakgate.toml"]
                    .as_str()
                    .ok_or("leakgate.toml in the ConfigMap")?;
                use figment::providers::Format;
                let config: leakgate_server::Config = figment::Figment::from(
                    figment::providers::Serialized::defaults(leakgate_server::Config::default()),
                )
                .merge(figment::providers::Toml::string(text))
                .extract()
                .map_err(|e| format!("the ConfigMap's leakgate.toml: {e}"))?;
                assert!(config.github.app_id.is_some());
            }
            _ => {}
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]);
    let secret = yaml(&dir.join("secret.example.yaml"));
    assert_eq!(secret["kind"].as_str(), Some("Secret"));
    Ok(())
}

#[test]
fn compose_file_and_systemd_units_name_existing_keys() -> TestResult {
    let compose = yaml(&deploy().join("compose.yaml"));
    let services = compose["services"].as_mapping().ok_or("services")?;
    assert!(services.len() >= 3, "PostgreSQL and two replicas");
    let replica = &compose["services"]["leakgate-1"];
    let vars: Vec<(String, String)> = replica["environment"]
        .as_mapping()
        .ok_or("environment")?
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or("").to_owned(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    check_env(&vars, "compose.yaml");

    for unit in ["leakgate.service", "leakgate-hook-install.service", "leakgate-hook-install.path"]
    {
        let text = std::fs::read_to_string(deploy().join("systemd").join(unit))?;
        let mut section = String::new();
        let mut vars = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if line.starts_with('[') {
                assert!(line.ends_with(']'), "{unit}: {line}");
                section = line.to_owned();
                continue;
            }
            let (key, value) =
                line.split_once('=').ok_or_else(|| format!("{unit}: not key=value: {line}"))?;
            assert!(!section.is_empty() && !key.trim().is_empty(), "{unit}: {line}");
            if key == "Environment" {
                if let Some((name, value)) = value.split_once('=') {
                    vars.push((name.to_owned(), value.to_owned()));
                }
            }
            if key == "ExecStart" {
                assert!(value.starts_with("/usr/local/bin/leakgate "), "{unit}: {value}");
            }
        }
        check_env(&vars, unit);
    }
    Ok(())
}

#[test]
fn the_container_build_file_is_well_formed() -> TestResult {
    let text = std::fs::read_to_string(deploy().join("Dockerfile"))?;
    let known = [
        "FROM",
        "RUN",
        "COPY",
        "ADD",
        "WORKDIR",
        "ENV",
        "USER",
        "EXPOSE",
        "VOLUME",
        "ENTRYPOINT",
        "CMD",
        "HEALTHCHECK",
        "ARG",
        "LABEL",
    ];
    let mut logical = String::new();
    let mut instructions = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && logical.is_empty()) {
            continue;
        }
        logical.push_str(trimmed.trim_end_matches('\\'));
        logical.push(' ');
        if !trimmed.ends_with('\\') {
            let word = logical.split_whitespace().next().unwrap_or("").to_owned();
            assert!(known.contains(&word.as_str()), "unknown instruction {word:?} in {logical}");
            instructions.push((word, logical.trim().to_owned()));
            logical.clear();
        }
    }
    let froms = instructions.iter().filter(|(w, _)| w == "FROM").count();
    assert!(froms >= 2, "multi-stage");
    assert!(instructions.iter().any(|(w, l)| w == "COPY" && l.contains("--from=build")));
    let user = instructions.iter().rev().find(|(w, _)| w == "USER").ok_or("a USER")?;
    assert!(!user.1.contains("root") && !user.1.ends_with(" 0"), "non-root: {}", user.1);
    assert!(
        instructions.iter().any(|(w, l)| w == "RUN" && l.contains("git")),
        "git in the runtime image"
    );
    assert!(instructions.iter().any(|(w, l)| w == "ENTRYPOINT" && l.contains("leakgate")));
    Ok(())
}
