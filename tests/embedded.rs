//! The embedded default through the real binary: no DATABASE_URL, a fresh data folder,
//! a private cluster started, reused by a second command, stopped on SIGTERM, and the
//! data still there on the next start.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A data folder that does not exist yet, under a short /tmp path (the socket path is
/// limited to ~100 bytes); removed with the returned guard.
fn fresh_data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("ll-emb")
        .tempdir_in("/tmp")
        .unwrap();
    let data = tmp.path().join("data");
    (tmp, data)
}

fn leadline(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadline"));
    c.env_remove("DATABASE_URL")
        .env("LEADLINE_DATA_DIR", data)
        .env("LEADLINE_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    c
}

/// A running server; killed if the test panics before stopping it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn serve(data: &Path) -> (Server, String) {
    let mut child = leadline(data)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");
    (Server(Some(child)), addr)
}

fn stop(mut server: Server) {
    let mut child = server.0.take().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

fn account(data: &Path) -> serde_json::Value {
    let out = leadline(data)
        .args(["account", "create", "--name", "Acme Roofing"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "one JSON line: {line}");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn embedded_postgres_starts_persists_and_stops() {
    let (_tmp, data) = fresh_data_dir();
    // `migrate` and `account create` work with no server running…
    assert!(leadline(&data).arg("migrate").status().unwrap().success());
    let first = account(&data);
    let key = first["api_key"].as_str().unwrap().to_string();
    assert!(
        !data.join("pg/postmaster.pid").exists(),
        "a one-shot command stops the cluster it started"
    );

    let (server, addr) = serve(&data);
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["database"], "connected");
    // …and while one is (it attaches to the running cluster, and leaves it running).
    let second = account(&data);
    assert_ne!(second["account_id"], first["account_id"]);
    // The first owner comes with the account; more people with `user create`: each gets
    // a one-time link to set their password.
    let with_owner = leadline(&data)
        .args([
            "account",
            "create",
            "--name",
            "Bolt Roofing",
            "--owner-email",
            "Olivia@Bolt.test",
        ])
        .output()
        .unwrap();
    assert!(
        with_owner.status.success(),
        "{}",
        String::from_utf8_lossy(&with_owner.stderr)
    );
    let with_owner: serde_json::Value = serde_json::from_slice(&with_owner.stdout).unwrap();
    let bolt = with_owner["account_id"].to_string();
    let user = leadline(&data)
        .args([
            "user",
            "create",
            "--account",
            &bolt,
            "--email",
            "sam@bolt.test",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(
        user.status.success(),
        "{}",
        String::from_utf8_lossy(&user.stderr)
    );
    let user: serde_json::Value = serde_json::from_slice(&user.stdout).unwrap();
    assert_eq!(user["role"], "admin");
    for link in [&with_owner["setup_link"], &user["setup_link"]] {
        let link = link.as_str().unwrap();
        let path = &link[link.find("/password/").expect("a password link")..];
        let page = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{link}");
        assert!(page
            .text()
            .await
            .unwrap()
            .contains("Welcome to Bolt Roofing"));
    }
    let bad = leadline(&data)
        .args([
            "user",
            "create",
            "--account",
            &bolt,
            "--email",
            "x@bolt.test",
            "--role",
            "boss",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--role must be owner, admin or member"));
    let again = leadline(&data)
        .args([
            "user",
            "create",
            "--account",
            &bolt,
            "--email",
            "SAM@bolt.test",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success(), "one user per email in an account");
    let key2 = leadline(&data)
        .args([
            "account",
            "key",
            "--account",
            &first["account_id"].to_string(),
        ])
        .output()
        .unwrap();
    assert!(key2.status.success());
    let r = http
        .post(format!("http://{addr}/api/communications/log"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"type": "sms", "direction": "inbound", "from_address": "+13126412278", "content": "Is my roof ok?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // `account revoke-key` by prefix: the next request with the key is refused.
    let issued: serde_json::Value = serde_json::from_slice(&key2.stdout).unwrap();
    let key2 = issued["api_key"].as_str().unwrap().to_string();
    let revoked = leadline(&data)
        .args([
            "account",
            "revoke-key",
            "--account",
            &first["account_id"].to_string(),
            "--prefix",
            &key2[..11],
        ])
        .output()
        .unwrap();
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let r = http
        .get(format!("http://{addr}/api/leads"))
        .bearer_auth(&key2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // With no LEADLINE_MASTER_KEY, the server generated one in the data folder, private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Only a Unix socket in the data folder: no TCP port was opened by PostgreSQL.
    assert!(data.join("run/.s.PGSQL.5432").exists());
    stop(server);
    assert!(
        !data.join("pg/postmaster.pid").exists(),
        "the cluster we started is stopped on SIGTERM"
    );

    let (server, addr) = serve(&data);
    let leads: serde_json::Value = http
        .get(format!("http://{addr}/api/leads"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        leads["items"][0]["phone"], "+13126412278",
        "data persists across restarts: {leads}"
    );
    stop(server);
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn a_bad_setting_is_named_on_exit() {
    let out = leadline(Path::new("/tmp/unused"))
        .env("LEADLINE_BIND", "not-an-address")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEADLINE_BIND"));
}

#[test]
fn a_data_folder_the_cluster_user_cannot_enter_is_named_with_the_fix() {
    if !nix::unistd::geteuid().is_root() {
        return; // Only root hands the cluster to another user.
    }
    // As `mktemp -d` makes it: private to root.
    let tmp = tempfile::Builder::new()
        .prefix("ll-closed")
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = leadline(&tmp.path().join("data"))
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot enter {}", tmp.path().display()))
            && err.contains("chmod o+x"),
        "{err}"
    );
}

fn postmaster_pid(data: &Path) -> Option<i32> {
    std::fs::read_to_string(data.join("pg/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[tokio::test]
async fn a_killed_postmaster_is_restarted_and_requests_fail_fast_meanwhile() {
    let (_tmp, data) = fresh_data_dir();
    let key = account(&data)["api_key"].as_str().unwrap().to_string();
    let (server, addr) = serve(&data);
    let http = reqwest::Client::new();
    let leads = async || {
        let t = std::time::Instant::now();
        let status = http
            .get(format!("http://{addr}/api/leads"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        (status, t.elapsed())
    };
    assert_eq!(leads().await.0, 200);
    let first = postmaster_pid(&data).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let start = std::time::Instant::now();
    let mut unavailable = vec![];
    loop {
        let (status, took) = leads().await;
        // A backend may still answer a moment after its postmaster died: done only once
        // a new postmaster runs and answers.
        if status == 200 && postmaster_pid(&data).is_some_and(|p| p != first) {
            break;
        }
        if status == 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        assert_eq!(status, 503, "only 'unavailable' while the database is down");
        unavailable.push(took);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the postmaster was not restarted: {unavailable:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = postmaster_pid(&data).unwrap();
    assert_ne!(second, first, "a new postmaster runs");
    assert!(!alive(first));
    // Once noticed (within about a second), a request is refused at once, not after the
    // pool's 10 s acquire timeout.
    let late = unavailable
        .iter()
        .skip(3)
        .copied()
        .max()
        .unwrap_or_default();
    assert!(late < Duration::from_secs(1), "{unavailable:?}");
    stop(server);
    assert!(
        !alive(second),
        "the restarted cluster is stopped on SIGTERM too"
    );
}

#[tokio::test]
async fn a_cluster_left_by_a_killed_leadline_is_taken_over_and_stopped_on_sigterm() {
    let (_tmp, data) = fresh_data_dir();
    let (crashed, _) = serve(&data);
    let postmaster = postmaster_pid(&data).unwrap();
    drop(crashed); // SIGKILL: no chance to stop the cluster
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(postmaster), "the cluster outlives a killed leadline");
    let (server, addr) = serve(&data);
    let health: serde_json::Value = reqwest::get(format!("http://{addr}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["database"], "connected");
    assert_eq!(
        postmaster_pid(&data),
        Some(postmaster),
        "the same cluster, taken over"
    );
    // A one-shot command meanwhile leaves it alone: the server runs it.
    account(&data);
    assert!(alive(postmaster));
    stop(server);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while alive(postmaster) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(postmaster), "stopped with the server that ran it");
}

/// Runs a PostgreSQL tool as the cluster's owner (root may not run them).
fn pg_tool(data: &Path, tool: &str, args: &[&str]) -> std::process::ExitStatus {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let bin = leadline::db::embedded::find_bin_dir().unwrap();
    let meta = std::fs::metadata(data.join("pg")).unwrap();
    let mut c = Command::new(bin.join(tool));
    c.current_dir(data.join("pg"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if nix::unistd::Uid::effective().is_root() {
        c.uid(meta.uid()).gid(meta.gid());
    }
    c.status().unwrap()
}

/// Logs message `i` until the server acknowledges it (2xx), across whatever faults;
/// how many attempts were refused or cut.
async fn log_until_acknowledged(
    http: &reqwest::Client,
    addr: &std::sync::Mutex<String>,
    key: &str,
    i: usize,
) -> usize {
    let mut refused = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // The server may have been replaced (killed and started again on a new port).
        let addr = addr.lock().unwrap().clone();
        let r = http
            .post(format!("http://{addr}/api/communications/log"))
            .bearer_auth(key)
            .timeout(Duration::from_secs(15))
            .json(&serde_json::json!({"type": "sms", "direction": "inbound",
                "from_address": format!("+1312641{:04}", i % 50), "content": format!("message {i}"),
                "provider_message_id": format!("trial-{i}")}))
            .send()
            .await;
        if let Ok(r) = &r {
            if r.status().is_success() {
                return refused;
            }
            assert_eq!(r.status(), 503, "only 'unavailable' while faults last");
        }
        refused += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "message {i} never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn no_acknowledged_write_is_lost_or_doubled_across_kills_and_restarts() {
    let (_tmp, data) = fresh_data_dir();
    let key = account(&data)["api_key"].as_str().unwrap().to_string();
    let (mut server, addr) = serve(&data);
    let addr = std::sync::Arc::new(std::sync::Mutex::new(addr));
    const N: usize = 200;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let (next, acked, felt) = (
        std::sync::Arc::new(AtomicUsize::new(0)),
        std::sync::Arc::new(AtomicUsize::new(0)),
        std::sync::Arc::new(AtomicUsize::new(0)),
    );
    // Four writers under way all along, each resending its message until acknowledged.
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (addr, key, next, acked, felt) = (
                addr.clone(),
                key.clone(),
                next.clone(),
                acked.clone(),
                felt.clone(),
            );
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                loop {
                    let i = next.fetch_add(1, SeqCst);
                    if i >= N {
                        return;
                    }
                    felt.fetch_add(log_until_acknowledged(&http, &addr, &key, i).await, SeqCst);
                    acked.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    let faults = [
        (40, "kill -9 postmaster"),
        (80, "pg_ctl restart -m fast"),
        (120, "kill -9 leadline"),
        (160, "pg_ctl restart -m immediate"),
    ];
    for (at, fault) in faults {
        while acked.load(SeqCst) < at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match fault {
            "kill -9 postmaster" => {
                let pid = postmaster_pid(&data).unwrap();
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .unwrap();
            }
            "kill -9 leadline" => {
                drop(server); // mid-request: some writes are cut before their answer
                let (again, new_addr) = serve(&data);
                server = again;
                *addr.lock().unwrap() = new_addr;
            }
            restart => {
                let mode = restart.rsplit(' ').next().unwrap();
                let pgdata = data.join("pg");
                let log = data.join("postgres.log");
                // Its start may lose the race to the supervisor's: either way one runs.
                let args = ["-D", pgdata.to_str().unwrap(), "-l", log.to_str().unwrap()];
                let status = pg_tool(
                    &data,
                    "pg_ctl",
                    &[&args[..], &["-w", "-m", mode, "restart"]].concat(),
                );
                eprintln!("pg_ctl restart -m {mode}: {status}");
            }
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let felt = felt.load(SeqCst);
    eprintln!("{felt} attempts were refused or cut and sent again");
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect_with(&leadline::db::socket_options(
        &data.join("run"),
        leadline::db::EMBEDDED_DATABASE,
    ))
    .await
    .unwrap();
    let mut ids: Vec<String> = sqlx::query_scalar(
        "select provider_message_id from communications where provider_message_id like 'trial-%'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    assert_eq!(ids.len(), N, "0 lost, 0 doubled");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "0 doubled");
    assert!(felt > 0, "the faults were felt by the writers");
    stop(server);
}
