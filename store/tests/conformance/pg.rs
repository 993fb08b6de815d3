//! A throwaway PostgreSQL cluster: initdb + pg_ctl in a temp directory, on a free port.
//! Under CI (`CI` set) a cluster that cannot start fails the suite instead of skipping it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    options: String,
}

fn find_bin() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates.into_iter().rev().find(|d| d.join("initdb").exists()).or_else(|| {
        let local = PathBuf::from("/usr/local/bin");
        local.join("initdb").exists().then_some(local)
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            // initdb refuses to run as root: run the cluster as the `postgres` user.
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// Starts a cluster, or explains why it cannot.
    pub fn start() -> Result<Postgres, String> {
        let bin = find_bin().ok_or("no PostgreSQL binaries (initdb) found; install postgresql")?;
        let dir =
            tempfile::Builder::new().prefix("leakgate-pg-").tempdir().map_err(|e| e.to_string())?;
        let as_postgres_user = is_root();
        let data = dir.path().join("data");
        if as_postgres_user {
            let uid =
                Command::new("id").args(["-u", "postgres"]).output().map_err(|e| e.to_string())?;
            let gid =
                Command::new("id").args(["-g", "postgres"]).output().map_err(|e| e.to_string())?;
            let parse = |o: &std::process::Output| {
                String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok()
            };
            std::os::unix::fs::chown(dir.path(), parse(&uid), parse(&gid))
                .map_err(|e| e.to_string())?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut pg = Postgres { dir, bin, port, as_postgres_user, options: String::new() };
        let out = pg
            .command("initdb")
            .args(["-D", path(&data)?, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let socket_dir = pg.dir.path().to_owned();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=100",
            path(&socket_dir)?
        );
        pg.options = options;
        pg.resume()?;
        Ok(pg)
    }

    /// Starts the cluster's server (again, after [`Postgres::pause`]) on the same port.
    pub fn resume(&self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let out = self
            .command("pg_ctl")
            .args([
                "-D",
                path(&data)?,
                "-l",
                path(&log)?,
                "-o",
                &self.options,
                "-w",
                "-t",
                "30",
                "start",
            ])
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "pg_ctl start failed: {}{log}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Stops the server at once (an outage); the data stays for [`Postgres::resume`].
    #[allow(dead_code)] // used by the service's tests, not by the store's
    pub fn pause(&self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        let out = self
            .command("pg_ctl")
            .args(["-D", path(&data)?, "-m", "immediate", "-w", "stop"])
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("pg_ctl stop failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// The URL of database `name` in the cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A fresh database in the cluster, so that tests do not share state.
    pub async fn database(&self, name: &str) -> String {
        let admin = sqlx::PgPool::connect(&self.url("postgres"))
            .await
            .expect("the cluster accepts connections");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        self.url(name)
    }
}

fn path(p: &Path) -> Result<&str, String> {
    p.to_str().ok_or_else(|| "non-utf-8 temp path".to_owned())
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ =
            self.command("pg_ctl").arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
    }
}

/// Starts a cluster; under CI a failure fails the test instead of skipping it.
pub fn start_or_skip() -> Option<Postgres> {
    match Postgres::start() {
        Ok(pg) => Some(pg),
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "PostgreSQL must start in CI: {why}");
            eprintln!("skipping the PostgreSQL half of the conformance suite: {why}");
            None
        }
    }
}
