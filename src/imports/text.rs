//! From a file's bytes to CSV records: the text encoding (UTF-8 with or without BOM,
//! UTF-16 with a BOM as Excel's "Unicode text" writes it, else Windows-1252, the superset
//! of Latin-1 that older spreadsheets export), NUL bytes dropped, the delimiter guessed
//! from the header line (`,` `;` tab `|`), and the records read with quoted fields that
//! may hold line breaks, CRLF or LF alike. Pure: no database, no I/O.

/// The file as records; the first record is the header.
#[derive(Debug, Clone)]
pub struct Table {
    pub headers: Vec<String>,
    /// Data records with their row number as a spreadsheet shows it (the header is row 1).
    pub records: Vec<(u64, Vec<String>)>,
    /// `utf-8`, `utf-16le`, `utf-16be` or `windows-1252`.
    pub encoding: &'static str,
    pub delimiter: char,
}

/// Text of the file and the encoding it was read in. NUL characters are removed
/// (PostgreSQL refuses them in text, and no spreadsheet means one).
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    let (mut text, name) = if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (t, _) = enc.decode_without_bom_handling(&bytes[bom..]);
        let name = match enc.name() {
            "UTF-16LE" => "utf-16le",
            "UTF-16BE" => "utf-16be",
            _ => "utf-8",
        };
        (t.into_owned(), name)
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), "utf-8"),
            Err(_) => {
                let (t, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                (t.into_owned(), "windows-1252")
            }
        }
    };
    crate::sanitize::strip(&mut text);
    (text, name)
}

/// The delimiter of the header line (outside quotes): the most frequent of `,` `;` tab
/// `|`, a comma when there is none or a tie with it.
pub fn sniff_delimiter(text: &str) -> char {
    let mut counts = [(',', 0usize), (';', 0), ('\t', 0), ('|', 0)];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            _ if !quoted => {
                if let Some(e) = counts.iter_mut().find(|(d, _)| *d == c) {
                    e.1 += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = counts[0];
    for e in &counts[1..] {
        if e.1 > best.1 {
            best = *e;
        }
    }
    best.0
}

/// Reads the file; an error says what is wrong with it as a whole (empty, unreadable).
pub fn read(bytes: &[u8]) -> Result<Table, String> {
    let (text, encoding) = decode(bytes);
    let delimiter = sniff_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut headers: Option<Vec<String>> = None;
    let mut records = Vec::new();
    let mut row = 1u64;
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("the file is not readable as CSV: {e}"))?;
        let cells: Vec<String> = rec.iter().map(str::to_string).collect();
        if headers.is_none() {
            headers = Some(cells.iter().map(|h| h.trim().to_string()).collect());
            continue;
        }
        row += 1;
        // Lines of empty cells (`,,,,` at the end of a sheet) are no rows.
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        records.push((row, cells));
    }
    let headers = headers.filter(|h| h.iter().any(|c| !c.is_empty()));
    let headers = headers.ok_or_else(|| "the file is empty: no header line".to_string())?;
    Ok(Table {
        headers,
        records,
        encoding,
        delimiter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_bom_and_crlf() {
        let t = read(b"\xEF\xBB\xBFName,Email\r\nAnn,ann@x.co\r\n").unwrap();
        assert_eq!(t.headers, ["Name", "Email"]);
        assert_eq!(t.records, [(2, vec!["Ann".to_string(), "ann@x.co".into()])]);
        assert_eq!(t.encoding, "utf-8");
    }

    #[test]
    fn latin1_is_read_as_windows_1252() {
        let t = read(b"Name;Email\nJos\xE9 M\xFCller;j@x.co\n").unwrap();
        assert_eq!(t.delimiter, ';');
        assert_eq!(t.records[0].1[0], "José Müller");
        assert_eq!(t.encoding, "windows-1252");
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "Name\tPhone\nAnn\t312\n".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let t = read(&bytes).unwrap();
        assert_eq!(t.delimiter, '\t');
        assert_eq!(t.records[0].1, ["Ann", "312"]);
    }

    #[test]
    fn quoted_newlines_keep_row_numbers_of_records_and_nul_goes() {
        let t = read(b"name,notes\n\"Ann\",\"two\nlines, one cell\"\nB\0ob,x\n,\nCy,\n").unwrap();
        assert_eq!(t.records.len(), 3);
        assert_eq!(
            t.records[0],
            (2, vec!["Ann".into(), "two\nlines, one cell".into()])
        );
        assert_eq!(t.records[1].0, 3);
        assert_eq!(t.records[1].1[0], "Bob");
        // The empty record (row 4) is left out; the next is row 5.
        assert_eq!(t.records[2].0, 5);
    }

    #[test]
    fn delimiters_are_sniffed_from_the_header_only() {
        assert_eq!(sniff_delimiter("a;b;c\n1,2,3,4,5,6"), ';');
        assert_eq!(sniff_delimiter("\"a;b\",c\n"), ',');
        assert_eq!(sniff_delimiter("a|b|c"), '|');
        assert_eq!(sniff_delimiter("single"), ',');
        assert!(read(b"").is_err());
        assert!(read(b"\n\n").is_err());
    }
}
