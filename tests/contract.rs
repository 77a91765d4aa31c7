//! The OpenAPI document against the server: schemathesis generates requests from
//! `/openapi.json` (valid and invalid ones) and fails on any 5xx, a response whose status
//! the document does not list, or a body or content type that does not match it.
//! `scripts/test` installs the pinned schemathesis into `target/schemathesis`.

mod common;

use std::path::PathBuf;

use common::spawn_app_with;

/// The version `scripts/test` installs; the CLI flags below are those of 4.x.
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Paths left out (each has one operation), because fuzzing it is unsafe here, not
/// because it fails:
const EXCLUDED: &[&str] = &[
    // Connect and test open IMAP/SMTP connections to whatever host the request names:
    // random hosts mean traffic (and DNS look-ups) off this machine.
    "/api/integrations/email/connect",
    "/api/integrations/email/test",
    // Would revoke the very key the run authenticates with (key ids are small integers,
    // the first the fuzzer tries), and every later request would only test the 401.
    "/api/keys/{id}",
];

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("SCHEMATHESIS") {
        return p.into();
    }
    let venv =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis/bin/schemathesis");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_to_its_openapi_document() {
    // SMS calls go to a closed loopback port, never to Telnyx.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let telnyx = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(&[("TELNYX_API_BASE", &telnyx)]).await;
    let acct = app.account("Contract Roofing").await;

    let bin = schemathesis();
    let version = std::process::Command::new(&bin).arg("--version").output();
    let version = version
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    assert!(
        version.contains(SCHEMATHESIS_VERSION),
        "schemathesis {SCHEMATHESIS_VERSION} is needed (found {:?} at {}): scripts/test \
         installs it (python3 -m venv target/schemathesis && target/schemathesis/bin/pip \
         install 'schemathesis=={SCHEMATHESIS_VERSION}'), or set SCHEMATHESIS to its path",
        version.trim(),
        bin.display()
    );
    // Its replay store (`st replay <id>` of a failure) lands here, not in the work tree.
    let run_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.current_dir(&run_dir)
        .arg("run")
        .arg(format!("{}/openapi.json", app.base))
        .args(["--header", &format!("Authorization: Bearer {}", acct.key)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // A bounded, reproducible run: the same seed and examples every time.
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &env_or("LEADLINE_CONTRACT_EXAMPLES", "25")])
        .args(["--seed", &env_or("LEADLINE_CONTRACT_SEED", "20261204")])
        .args(["--generation-database", "none"])
        .args(["--generation-with-security-parameters", "false"])
        .args(["--workers", "2", "--request-timeout", "10", "--no-color"])
        .args(["--suppress-health-check", "all"])
        .kill_on_drop(true);
    for path in EXCLUDED {
        cmd.args(["--exclude-path", path]);
    }
    // Extra flags to narrow a run while fixing, e.g. `--include-path-regex /api/leads`.
    if let Ok(extra) = std::env::var("LEADLINE_CONTRACT_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let out = match cmd.output().await {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run {}: {e}\nschemathesis {SCHEMATHESIS_VERSION} is needed: scripts/test installs it \
             (python3 -m venv target/schemathesis && target/schemathesis/bin/pip install \
             'schemathesis=={SCHEMATHESIS_VERSION}'), or set SCHEMATHESIS to its path",
            bin.display()
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found the server and its document disagreeing ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // A run that reached no operation would pass too: make sure it tested them.
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "schemathesis tested nothing:\n{stdout}\n{stderr}"
    );
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The points of issue 15 that the fuzzer cannot see by itself: a shape, the shared
/// refusals on every operation, and the limits the server enforces.
#[tokio::test]
async fn the_document_states_shapes_refusals_and_limits() {
    let app = common::spawn_app().await;
    let doc = app
        .send(app.http.get(format!("{}/openapi.json", app.base)))
        .await
        .body;
    let schemas = &doc["components"]["schemas"];
    // `Lead` is its profile (a `$ref`) and its own fields, under `allOf`.
    let lead = &schemas["Lead"];
    let breakdown = lead["allOf"]
        .as_array()
        .into_iter()
        .flatten()
        .chain([lead])
        .map(|part| &part["properties"]["score_breakdown"])
        .find(|p| p.is_object())
        .unwrap_or_else(|| panic!("Lead has no score_breakdown: {lead}"));
    assert!(
        lead.to_string()
            .contains("\"$ref\":\"#/components/schemas/LeadProfile\""),
        "{lead}"
    );
    assert_eq!(breakdown["type"], "array", "{breakdown}");
    assert_eq!(breakdown["items"]["$ref"], "#/components/schemas/ScoreRule");

    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let has = |status: &str| op["responses"][status].is_object();
            let what = format!("{method} {path}");
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                secured += 1;
                assert!(has("401") && has("429"), "{what}: no 401/429");
            }
            let json_body = op["requestBody"]["content"]["application/json"].is_object();
            if json_body && !path.starts_with("/webhooks/") {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{what}: no {status}");
                }
            }
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(has("400") && has("422"), "{what}: no 400/422");
            }
        }
    }
    assert!(secured >= 40, "only {secured} secured operations");

    let limit = doc["paths"]["/api/leads"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit parameter");
    assert_eq!(limit["schema"]["minimum"], 1, "{limit}");
    assert_eq!(limit["schema"]["maximum"], 200, "{limit}");
    let key_name = &schemas["NewKeyBody"]["properties"]["name"];
    assert_eq!(key_name["minLength"], 1, "{key_name}");
    assert_eq!(key_name["maxLength"], 100, "{key_name}");
}
