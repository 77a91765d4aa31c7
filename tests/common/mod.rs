//! Test harness: one throwaway PostgreSQL cluster per test binary (started from the
//! system's binaries, killed when the test process exits), a migrated template
//! database, and a fresh database cloned from it for every test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use leadline::app::Application;
use leadline::config::Config;
use leadline::db::{embedded, socket_options, EmbeddedPostgres, MIGRATOR};
use serde_json::Value;
use sqlx::{Connection, PgPool};

const TEMPLATE: &str = "leadline_template";

struct Cluster {
    socket_dir: PathBuf,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // The keeper thread lives as long as the process: the cluster is started with
        // a parent-death signal, so it stops when this test binary exits.
        std::thread::spawn(move || {
            remove_stale_clusters();
            let root = std::env::temp_dir().join(format!("leadline-test-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let opts = embedded::Options {
                // Benchmarks set LEADLINE_TEST_DURABLE to flush commits as in production.
                ephemeral: std::env::var_os("LEADLINE_TEST_DURABLE").is_none(),
                die_with_parent: true,
                max_connections: Some(400),
            };
            let pg = EmbeddedPostgres::start(&root, &opts).expect("start test PostgreSQL");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                leadline::db::ensure_database(&pg, TEMPLATE).await.unwrap();
                let mut conn =
                    sqlx::PgConnection::connect_with(&socket_options(&pg.socket_dir, TEMPLATE))
                        .await
                        .unwrap();
                MIGRATOR.run(&mut conn).await.expect("migrate template");
                conn.close().await.unwrap();
            });
            tx.send(pg.socket_dir.clone()).unwrap();
            let _keep = pg;
            loop {
                std::thread::park();
            }
        });
        Cluster {
            socket_dir: rx.recv().expect("test cluster failed to start"),
        }
    })
}

/// Clusters of earlier test runs whose process is gone.
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name
            .strip_prefix("leadline-test-")
            .and_then(|p| p.parse::<i32>().ok())
        {
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// A fresh, migrated database cloned from the template.
pub async fn fresh_database() -> PgPool {
    let c = cluster();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect_with(&socket_options(&c.socket_dir, "postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("create database {name} template {TEMPLATE}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    leadline::db::pool(socket_options(&c.socket_dir, &name), 20)
        .await
        .unwrap()
}

pub fn test_config(extra: &[(&str, &str)]) -> Config {
    let mut vars: std::collections::HashMap<String, String> = [
        ("LEADLINE_BIND", "127.0.0.1:0"),
        // The test mail servers run on loopback.
        ("LEADLINE_ALLOW_PRIVATE_HOSTS", "true"),
        (
            "LEADLINE_MASTER_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test config")
}

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    /// The server's state, to drive background steps (outbox drain) directly.
    pub state: leadline::state::AppState,
}

pub struct Account {
    pub id: i64,
    pub key: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let pool = fresh_database().await;
    spawn_on_pool(pool, extra).await
}

/// A second instance on `first`'s database (another replica), with its own pool and writer.
pub async fn replica(first: &TestApp, extra: &[(&str, &str)]) -> TestApp {
    let pool = leadline::db::pool((*first.pool.connect_options()).clone(), 10)
        .await
        .unwrap();
    spawn_on_pool(pool, extra).await
}

/// A random test's seed: `var` from the environment repeats a run; printed either way.
pub fn seed(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("{var}={seed}");
    seed
}

pub async fn spawn_on_pool(pool: PgPool, extra: &[(&str, &str)]) -> TestApp {
    let app = Application::build_with_pool(test_config(extra), pool.clone())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        base,
        pool,
        state,
        http: reqwest::Client::new(),
    }
}

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The error code of an error body (panics with the body when it is not one).
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }

    /// The message of an error body (panics with the body when it is not one).
    pub fn error_message(&self) -> &str {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }
}

impl TestApp {
    pub async fn account(&self, name: &str) -> Account {
        let issued = leadline::accounts::create(&self.pool, name).await.unwrap();
        Account {
            id: issued.account_id.0,
            key: issued.api_key,
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, key: &str, path: &str) -> Resp {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(key),
        )
        .await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Resp {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    pub async fn delete(&self, key: &str, path: &str) -> Resp {
        self.send(
            self.http
                .delete(format!("{}{path}", self.base))
                .bearer_auth(key),
        )
        .await
    }

    pub async fn patch(&self, key: &str, path: &str, body: Value) -> Resp {
        self.send(
            self.http
                .patch(format!("{}{path}", self.base))
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    pub async fn log(&self, key: &str, body: Value) -> Resp {
        self.post(key, "/api/communications/log", body).await
    }
}
