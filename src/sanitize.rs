//! The one boundary for text on its way to PostgreSQL, which refuses the NUL character in
//! `text` and `jsonb`. Input from our own clients (the JSON API, query strings, paths) is
//! refused with 422 naming the field (`find_nul`, used by `extract`); input from providers
//! (mail, webhooks) is kept with the NUL removed (`strip`, `strip_json`, used by
//! `communications::record`, the webhook event store and the quarantine).

use serde_json::Value;

/// Removes NUL characters in place; true when there were any.
pub fn strip(s: &mut String) -> bool {
    if s.contains('\0') {
        s.retain(|c| c != '\0');
        true
    } else {
        false
    }
}

/// `strip` for an optional field.
pub fn strip_opt(s: &mut Option<String>) -> bool {
    s.as_mut().is_some_and(strip)
}

/// Removes NUL characters from every string and key of a JSON value; true when any were.
pub fn strip_json(v: &mut Value) -> bool {
    match v {
        Value::String(s) => strip(s),
        Value::Array(a) => a.iter_mut().fold(false, |any, x| strip_json(x) | any),
        Value::Object(o) => {
            if o.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(o);
                for (mut k, x) in old {
                    strip(&mut k);
                    o.insert(k, x);
                }
                for x in o.values_mut() {
                    strip_json(x);
                }
                true
            } else {
                o.values_mut().fold(false, |any, x| strip_json(x) | any)
            }
        }
        _ => false,
    }
}

/// The path (`lead.name`, `tags[2]`) of the first string or key holding a NUL character.
pub fn find_nul(v: &Value) -> Option<String> {
    fn walk(v: &Value, path: &mut String) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().enumerate().any(|(i, x)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(x, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(o) => o.iter().any(|(k, x)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                let found = k.contains('\0') || walk(x, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then(|| if path.is_empty() { "body".into() } else { path })
}

/// Whether JSON text may hold an escaped NUL (`\u0000`); a cheap test before `find_nul`.
/// (A raw NUL byte is not valid JSON: the parser refuses it on its own.)
pub fn may_hold_escaped_nul(json: &[u8]) -> bool {
    memchr::memmem::find(json, b"\\u0000").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_by_path_and_stripped_everywhere() {
        let v = json!({"name": "ok", "lead": {"tags": ["a", "b\u{0}c"]}});
        assert_eq!(find_nul(&v).as_deref(), Some("lead.tags[1]"));
        assert_eq!(find_nul(&json!({"a": 1, "b": ["x"]})), None);
        assert_eq!(find_nul(&json!("a\u{0}")).as_deref(), Some("body"));
        let mut v = json!({"k\u{0}ey": {"x": "1\u{0}2"}, "n": 3});
        assert!(strip_json(&mut v));
        assert_eq!(v, json!({"key": {"x": "12"}, "n": 3}));
        assert!(!strip_json(&mut v));
        let mut s = "a\0b".to_string();
        assert!(strip(&mut s));
        assert_eq!(s, "ab");
    }

    #[test]
    fn escaped_nul_is_detected_cheaply() {
        assert!(may_hold_escaped_nul(br#"{"a":"x\u0000"}"#));
        assert!(!may_hold_escaped_nul(br#"{"a":"x\u0001"}"#));
    }
}
