//! The embedded default through the real binary: no DATABASE_URL, a fresh data folder,
//! a private cluster started, reused by a second command, stopped on SIGTERM, and the
//! data still there on the next start.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    let tmp = tempfile::Builder::new()
        .prefix("ll-emb")
        .tempdir_in("/tmp")
        .unwrap();
    let data = tmp.path().join("data");
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
