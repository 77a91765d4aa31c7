//! Posted forms of the inbound mail webhooks, read from the raw body as bytes: urlencoded
//! values are percent-decoded to bytes (a message's own charset decides how its text
//! reads, not UTF-8), and multipart bodies are accepted with CRLF or bare LF line ends (as
//! SendGrid's own samples have them). Never panics; what cannot be read is an error.

use std::collections::HashMap;

use super::parse::Attachment;

/// Largest single field kept from a webhook form (attachments included).
pub const MAX_FIELD_BYTES: usize = 25 * 1024 * 1024;

/// A posted form: text fields (raw bytes) and files.
#[derive(Debug, Default)]
pub struct FormData {
    pub fields: HashMap<String, Vec<u8>>,
    pub files: Vec<(String, Attachment)>,
}

impl FormData {
    /// A text field, trimmed, without NUL characters; `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.fields
            .get(name)
            .map(|b| {
                String::from_utf8_lossy(b)
                    .replace('\0', "")
                    .trim()
                    .to_string()
            })
            .filter(|s| !s.is_empty())
    }

    /// Reads a body of this content type.
    pub fn parse(content_type: &str, body: &[u8]) -> Result<Self, String> {
        let lower = content_type.to_ascii_lowercase();
        if lower.starts_with("multipart/form-data") {
            let boundary = param(content_type, "boundary")
                .ok_or("multipart/form-data without a boundary parameter")?;
            multipart(body, &boundary)
        } else if lower.starts_with("application/x-www-form-urlencoded") {
            Ok(urlencoded(body))
        } else {
            Err("expected multipart/form-data or application/x-www-form-urlencoded".into())
        }
    }
}

/// `a=1&b=%E9` → fields with the decoded bytes (`+` is a space).
pub fn urlencoded(body: &[u8]) -> FormData {
    let mut data = FormData::default();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let decode = |s: &[u8]| -> Vec<u8> {
            let plus: Vec<u8> = s
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&plus).collect()
        };
        let name = String::from_utf8_lossy(&decode(k)).into_owned();
        data.fields.insert(name, decode(v));
    }
    data
}

/// A parameter of a header value such as `form-data; name="x"; filename*=UTF-8''a%20b`.
pub fn param(value: &str, name: &str) -> Option<String> {
    let mut rest = value;
    while let Some(semi) = rest.find(';') {
        rest = &rest[semi + 1..];
        let (k, after) = rest.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            // A quoted string: up to the closing quote, `\"` escaped.
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            (out, &q[end.min(q.len())..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if k == format!("{name}*") {
            // RFC 5987: charset'lang'percent-encoded.
            let encoded = v.splitn(3, '\'').nth(2).unwrap_or(&v);
            return Some(
                percent_encoding::percent_decode_str(encoded)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
        if k == name {
            return Some(v);
        }
        rest = tail;
    }
    None
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    memchr::memmem::find(&hay[from..], needle).map(|i| from + i)
}

/// Splits a multipart body on its boundary. Delimiter lines end in CRLF or LF; a missing
/// final delimiter ends the last part at the end of the body.
pub fn multipart(body: &[u8], boundary: &str) -> Result<FormData, String> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err("the multipart boundary must be 1 to 200 characters".into());
    }
    let delim = format!("--{boundary}").into_bytes();
    let mut line_delim = b"\n".to_vec();
    line_delim.extend_from_slice(&delim);
    let mut pos = if body.starts_with(&delim) {
        delim.len()
    } else {
        find(body, &line_delim, 0).ok_or("the body has no multipart boundary")? + line_delim.len()
    };
    let mut data = FormData::default();
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        // The rest of the delimiter line (transport padding), then the part's headers.
        let Some(nl) = find(body, b"\n", pos) else {
            break;
        };
        pos = nl + 1;
        let mut headers: Vec<(String, String)> = vec![];
        loop {
            let end = find(body, b"\n", pos).unwrap_or(body.len());
            let line = String::from_utf8_lossy(&body[pos..end]);
            let line = line.trim_end_matches('\r');
            pos = (end + 1).min(body.len());
            if line.is_empty() || end >= body.len() {
                break;
            }
            match (line.starts_with([' ', '\t']), headers.last_mut()) {
                (true, Some((_, v))) => v.push_str(line),
                _ => {
                    if let Some((k, v)) = line.split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
            }
        }
        let (content_end, next) = match find(body, &line_delim, pos) {
            Some(i) => (
                if i > pos && body[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                },
                Some(i + line_delim.len()),
            ),
            None => (body.len(), None),
        };
        let content = &body[pos.min(content_end)..content_end];
        if content.len() > MAX_FIELD_BYTES {
            return Err(format!(
                "a form field is larger than {MAX_FIELD_BYTES} bytes"
            ));
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let disposition = header("content-disposition").unwrap_or_default();
        let name = param(disposition, "name").unwrap_or_default();
        let file_name = param(disposition, "filename");
        let content_type = header("content-type").map(str::to_string);
        match file_name {
            Some(f) if name != "email" && name != "body-mime" => data.files.push((
                name,
                Attachment::new(
                    Some(f),
                    content_type.unwrap_or_else(|| "application/octet-stream".into()),
                    None,
                    content.to_vec(),
                ),
            )),
            _ => {
                data.fields.insert(name, content.to_vec());
            }
        }
        match next {
            Some(n) => pos = n,
            None => break,
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_values_are_bytes() {
        let f = urlencoded(b"body-mime=ab%EEm%E9&a+b=c+d&empty");
        assert_eq!(f.fields["body-mime"], b"ab\xeem\xe9");
        assert_eq!(f.fields["a b"], b"c d");
        assert_eq!(f.fields["empty"], b"");
    }

    #[test]
    fn multipart_takes_crlf_and_bare_lf() {
        for nl in ["\r\n", "\n"] {
            let body = format!(
                "--XyZ{nl}Content-Disposition: form-data; name=\"from\"{nl}{nl}Dana <d@x.test>{nl}\
--XyZ{nl}Content-Disposition: form-data; name=\"attachment1\"; filename=\"roof.jpg\"{nl}Content-Type: image/jpeg{nl}{nl}\x01\x02\n\x03{nl}\
--XyZ--{nl}"
            );
            let f = multipart(body.as_bytes(), "XyZ").unwrap();
            assert_eq!(f.text("from").as_deref(), Some("Dana <d@x.test>"));
            assert_eq!(f.files.len(), 1);
            assert_eq!(f.files[0].1.data, b"\x01\x02\n\x03");
            assert_eq!(f.files[0].1.content_type, "image/jpeg");
        }
    }

    #[test]
    fn a_missing_final_boundary_keeps_the_last_part() {
        let f = multipart(
            b"preamble\n--b\nContent-Disposition: form-data; name=text\n\nhello",
            "b",
        )
        .unwrap();
        assert_eq!(f.text("text").as_deref(), Some("hello"));
        assert!(multipart(b"no boundary here", "b").is_err());
    }

    #[test]
    fn params_read_quoted_and_extended_values() {
        let v = r#"form-data; name="a\"b"; filename*=UTF-8''toit%20ab%C3%AEm%C3%A9.pdf"#;
        assert_eq!(param(v, "name").as_deref(), Some("a\"b"));
        assert_eq!(param(v, "filename").as_deref(), Some("toit abîmé.pdf"));
        assert_eq!(
            param("multipart/form-data; boundary=abc", "boundary").as_deref(),
            Some("abc")
        );
    }
}
