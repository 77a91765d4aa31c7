//! Bounded fuzzing of the parsers that read what providers send (and the lead sources'
//! readers and mappers): MIME → the stored parts
//! of a communication, the Mailgun/SendGrid form readers and field mappers, and the Telnyx
//! event reader with its signature check. Inputs come from proptest's generators: random
//! bytes, and the mail corpus (`tests/corpus/mail`) mutated (bytes flipped, slices cut,
//! repeated or spliced). Each target runs for `LEADLINE_FUZZ_SECS` seconds (default 20;
//! `scripts/test` sets 60) and must never panic nor let a NUL character through; a failing
//! input is written to `target/fuzz-failures/`. `cargo-fuzz` needs a nightly toolchain,
//! which this machine does not have.

#[path = "corpus_support/mod.rs"]
mod corpus_support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use leadline::channels::email::{form, parse, webhooks};
use leadline::telnyx::events as webhook;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};

fn budget() -> Duration {
    let secs = std::env::var("LEADLINE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Cut(usize, usize),
    Repeat(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = b.len().max(1);
        match e {
            Edit::Flip(i, x) => {
                if !b.is_empty() {
                    let i = i % b.len();
                    b[i] ^= x;
                }
            }
            Edit::Cut(i, len) => {
                let i = i % n;
                let end = (i + len % 200).min(b.len());
                if i < end {
                    b.drain(i..end);
                }
            }
            Edit::Repeat(i, len) => {
                let i = i % n;
                let end = (i + len % 500).min(b.len());
                if i < end {
                    let chunk = b[i..end].to_vec();
                    b.splice(i..i, chunk);
                }
            }
            Edit::Insert(i, bytes) => {
                let i = (i % n).min(b.len());
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Truncate(i) => b.truncate(i % n),
        }
    }
    b
}

/// Tokens that steer mutations into the parsers' interesting corners.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"\x00",
    b"=00",
    b"=\r\n",
    b"--",
    b"boundary=\"b\"",
    b"\r\n--b\r\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"charset=shift_jis",
    b"charset=iso-2022-jp",
    b"=?utf-8?B?",
    b"=?iso-8859-1?Q?",
    b"?=",
    b"<",
    b">",
    b"@",
    b"\"",
    b"\\",
    b"From: ",
    b"In-Reply-To: <",
    b"On Mon, 2 Mar 2026 Dana <d@x> wrote:\n> ",
    b"-----Original Message-----",
    b"<html><head><title>",
    b"%00",
    b"%",
    b"+",
    b"&",
    b"=",
    b"\\u0000",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\xff\xfe",
    b"\xe9",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Edit::Flip(i, x)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, l)| Edit::Cut(i, l)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, l)| Edit::Repeat(i, l)),
        (any::<usize>(), prop::sample::select(TOKENS))
            .prop_map(|(i, t)| Edit::Insert(i, t.to_vec())),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Random bytes, or a seed mutated by up to 8 edits.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..2048),
        4 => (prop::sample::select(seeds), prop::collection::vec(edit(), 0..8))
            .prop_map(|(seed, edits)| apply(seed, &edits)),
    ]
}

/// Runs `check` on generated inputs until the budget is spent; prints the rate.
fn fuzz<T: std::fmt::Debug>(
    name: &str,
    strategy: impl Strategy<Value = T>,
    bytes: impl Fn(&T) -> Vec<u8>,
    check: impl Fn(&T),
) {
    // LEADLINE_FUZZ_SEED repeats a run (scripts/test fixes one, so CI is reproducible);
    // without it every run explores new inputs.
    let seed: u64 = std::env::var("LEADLINE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &seed.to_le_bytes().repeat(4),
        ),
    );
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget() {
        let value = strategy.new_tree(&mut runner).expect("generate").current();
        if catch_unwind(AssertUnwindSafe(|| check(&value))).is_err() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{name}-{seed}-{runs}.bin"));
            std::fs::write(&path, bytes(&value)).unwrap();
            panic!(
                "{name}: input {runs} of seed {seed} made the target fail (saved to {})",
                path.display()
            );
        }
        runs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz {name}: {runs} inputs in {secs:.1} s ({:.0}/s), no failure",
        runs as f64 / secs
    );
}

fn no_nul(what: &str, s: &str) {
    assert!(!s.contains('\0'), "{what} kept a NUL: {s:?}");
}

fn seeds() -> Vec<Vec<u8>> {
    corpus_support::corpus()
        .into_iter()
        .map(|c| c.raw)
        .collect()
}

#[test]
fn fuzz_mime_to_communication() {
    fuzz("mime", input(seeds()), Clone::clone, |raw| {
        let mut p = parse::parse(raw);
        p.clamp();
        for (what, s) in [("text", &p.text), ("content", &p.content)] {
            no_nul(what, s);
        }
        for s in [
            &p.subject,
            &p.from,
            &p.from_name,
            &p.message_id,
            &p.in_reply_to,
        ]
        .into_iter()
        .flatten()
        {
            no_nul("header", s);
        }
        assert!(
            p.from.as_deref().is_none_or(|f| f.contains('@')),
            "{:?}",
            p.from
        );
        assert!(!p.identity().is_empty());
        let _ = (
            p.thread_key(),
            p.parents(),
            p.metadata(serde_json::json!({})),
        );
        let _ = parse::trim_reply(&String::from_utf8_lossy(raw));
    });
}

/// A multipart form around a (mutated) message, or the message urlencoded.
fn form_body() -> impl Strategy<Value = (bool, Vec<u8>)> {
    (any::<bool>(), input(seeds()), prop::collection::vec(edit(), 0..4)).prop_map(|(multipart, raw, edits)| {
        let body = if multipart {
            let mut b = b"--XyZ\nContent-Disposition: form-data; name=\"from\"\n\nDana <d@x.test>\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"email\"; filename*=UTF-8''m%C3%A9.eml\r\n\r\n".to_vec();
            b.extend_from_slice(&raw);
            b.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachment1\"; filename=\"a.pdf\"\r\n\r\n%PDF\r\n--XyZ--\r\n");
            b
        } else {
            let mut b = b"recipient=a%40b.test&from=Dana+%3Cd%40x.test%3E&message-headers=%5B%5B%22Subject%22%2C%22hi%22%5D%5D&body-mime=".to_vec();
            b.extend(percent_encoding::percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string().into_bytes());
            b
        };
        (multipart, apply(body, &edits))
    })
}

#[test]
fn fuzz_mailgun_and_sendgrid_forms() {
    fuzz(
        "forms",
        form_body(),
        |(_, b)| b.clone(),
        |(multipart, body)| {
            let ct = if *multipart {
                "multipart/form-data; boundary=XyZ"
            } else {
                "application/x-www-form-urlencoded"
            };
            let Ok(f) = form::FormData::parse(ct, body) else {
                return;
            };
            for p in [webhooks::mailgun_email(&f), webhooks::sendgrid_email(&f)] {
                let mut p = p;
                p.clamp();
                no_nul("text", &p.text);
                no_nul("content", &p.content);
                assert!(!p.identity().is_empty());
            }
            let _ = form::param(&String::from_utf8_lossy(body), "name");
        },
    );
}

/// Telnyx-like JSON events, mutated as bytes.
fn telnyx_event() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = [
        r#"{"data":{"id":"e1","event_type":"message.received","occurred_at":"2026-03-03T10:00:00Z","payload":{"id":"m1","from":{"phone_number":"+13125550100"},"to":[{"phone_number":"+13125550199"}],"text":"Roof leak \u0000 help"}}}"#,
        r#"{"data":{"id":"e2","event_type":"call.hangup","payload":{"call_session_id":"s1","from":"+13125550100","to":"+13125550199","hangup_cause":"normal_clearing"}}}"#,
        r#"{"data":{"id":"e3","event_type":"message.finalized","payload":{"id":"m2","to":[{"phone_number":"+13125550100","status":"delivered"}]}}}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    input(seeds)
}

#[test]
fn fuzz_telnyx_events() {
    use ed25519_dalek::{Signer, SigningKey};
    let key = SigningKey::from_bytes(&[7; 32]);
    fuzz("telnyx", telnyx_event(), Clone::clone, |body| {
        if let Ok(ev) = webhook::parse_event(body, key.verifying_key(), None) {
            assert!(!ev.id.trim().is_empty());
            assert!(
                leadline::sanitize::find_nul(&ev.envelope).is_none(),
                "a NUL was kept"
            );
        }
        // The signature check on the same bytes, with a real and a garbled signature.
        let ts = "1760000000";
        let mut msg = ts.as_bytes().to_vec();
        msg.push(b'|');
        msg.extend_from_slice(body);
        use base64::Engine;
        let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&msg).to_bytes());
        let mut h = axum::http::HeaderMap::new();
        h.insert("telnyx-signature-ed25519", sig.parse().unwrap());
        h.insert("telnyx-timestamp", ts.parse().unwrap());
        assert!(webhook::verify(&h, body, &[key.verifying_key()], 1_760_000_000).is_ok());
        let garbled = String::from_utf8_lossy(&body[..body.len().min(88)])
            .replace(|c: char| !c.is_ascii_graphic(), "A");
        if let Ok(v) = garbled.parse() {
            h.insert("telnyx-signature-ed25519", v);
            let _ = webhook::verify(&h, body, &[key.verifying_key()], 1_760_000_000);
        }
        let _ = leadline::telnyx::client::error_detail(body);
    });
}

/// What lead sources send: Google's WebhookLead, Facebook's notification and Graph lead,
/// HomeAdvisor's feed, generic JSON and web-form bodies.
fn lead_source_seeds() -> Vec<Vec<u8>> {
    [
        &br#"{"lead_id":"L-1","user_column_data":[{"column_name":"Full Name","string_value":"Pat Rivera","column_id":"FULL_NAME"},{"string_value":"+13125550142","column_id":"PHONE_NUMBER"},{"column_name":"Roof age?","string_value":"20","column_id":"roof"}],"api_version":"1.0","form_id":40000000000,"campaign_id":12345678901,"google_key":"k","is_test":true,"gcl_id":"x"}"#[..],
        br#"{"object":"page","entry":[{"id":"444","time":1765015200,"changes":[{"field":"leadgen","value":{"leadgen_id":"9001","page_id":"444","form_id":"1","ad_id":"2","adgroup_id":"3","created_time":1765015200}}]}]}"#,
        br#"{"created_time":"2026-12-06T10:00:00+0000","id":"1","field_data":[{"name":"full_name","values":["Lee"]},{"name":"email","values":["a@b.com"]},{"name":"zip_code","values":["60201"]}]}"#,
        br#"{"name":"Fancy Nancy","firstName":"Fancy","address":"123 Main","stateProvince":"PA","primaryPhone":"5558675309","srOid":1,"leadOid":2,"interview":[{"question":"Roof age","answer":"15"}]}"#,
        br#"{"lead":{"id":"Z"},"contact":{"full_name":"R","phones":["312"],"email":"r@x.com"},"answers":{"roof":[1,[2,{"a":null}]]}}"#,
        b"name=Jane+Doe&email=j%40x.com&phone=312&message=hi%00there&_gotcha=&utm_source=g&page_url=https%3A%2F%2Fa.test%2F%3Futm_campaign%3Dc",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

#[test]
fn fuzz_lead_source_mappers() {
    use leadline::intake::{self, facebook, form as web_form, google_ads, graph, marketplaces};
    fn clean(s: &intake::Submission) {
        if let serde_json::Value::Object(f) = serde_json::to_value(&s.fields).unwrap() {
            for (k, v) in f {
                no_nul(&k, v.as_str().unwrap_or(""));
            }
        }
        assert!(s.extra.len() <= intake::MAX_EXTRA_FIELDS);
    }
    fuzz(
        "lead_sources",
        input(lead_source_seeds()),
        Clone::clone,
        |raw| {
            for ct in [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=XyZ",
            ] {
                if let Ok(fields) = web_form::parse_body(ct, raw) {
                    if let Some(s) = web_form::submission(fields) {
                        clean(&s);
                        let _ = intake::identity(&s.fields, phonenumber::country::Id::US);
                        let _ = intake::details(&s.fields, phonenumber::country::Id::US, 2026);
                    }
                }
            }
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) {
                if let Ok(s) = google_ads::submission(&v) {
                    clean(&s);
                }
                let _ = facebook::leadgens(&v);
                let none = Default::default();
                clean(&marketplaces::homeadvisor::submission(&v, &none));
                clean(&marketplaces::angi::submission(&v, &none));
                clean(&intake::apply(&none, &v, "generic"));
            }
            for status in [200, 400] {
                if let Ok(lead) = graph::read_answer(status, raw) {
                    clean(&facebook::submission(&lead, "1", &serde_json::Value::Null));
                }
            }
        },
    );
}

/// Inputs the fuzzer once failed on, kept as regressions (`tests/corpus/fuzz/`).
#[test]
fn earlier_fuzz_failures_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/fuzz");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let multipart = name.contains("multipart");
        let ct = if multipart {
            "multipart/form-data; boundary=XyZ"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut p = parse::parse(&body);
        p.clamp();
        assert!(!p.identity().is_empty(), "{name} as MIME");
        if let Ok(f) = form::FormData::parse(ct, &body) {
            for mut p in [webhooks::mailgun_email(&f), webhooks::sendgrid_email(&f)] {
                p.clamp();
                assert!(!p.identity().is_empty(), "{name} as a form");
                no_nul("text", &p.text);
            }
        }
    }
}
