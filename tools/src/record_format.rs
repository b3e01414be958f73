//! How `brook consume` prints a record: kcat's `-f` format strings, or kcat's `-J`
//! JSON envelope, so scripts written for kcat keep working.

use std::io::Write;

use brook_client::ConsumerRecord;
use brook_protocol::records::TimestampType;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Topic,
    Partition,
    Offset,
    Key,
    KeyLen,
    Value,
    ValueLen,
    Timestamp,
    Headers,
}

/// A parsed `--format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format(Vec<Piece>);

impl Format {
    /// Parses kcat's tokens: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%K`
    /// key length, `%s` value, `%S` value length, `%T` timestamp (ms), `%h` headers
    /// (`k=v,k=v`), `%%`; and the escapes `\n`, `\t`, `\r`, `\\`. Unknown tokens are errors.
    pub fn parse(text: &str) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' => match chars.next() {
                    Some('t') => Piece::Topic,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('k') => Piece::Key,
                    Some('K') => Piece::KeyLen,
                    Some('s') => Piece::Value,
                    Some('S') => Piece::ValueLen,
                    Some('T') => Piece::Timestamp,
                    Some('h') => Piece::Headers,
                    Some('%') => {
                        literal.push('%');
                        continue;
                    }
                    other => {
                        return Err(format!(
                            "unknown format token %{}",
                            other.map(String::from).unwrap_or_default()
                        ));
                    }
                },
                '\\' => {
                    match chars.next() {
                        Some('n') => literal.push('\n'),
                        Some('t') => literal.push('\t'),
                        Some('r') => literal.push('\r'),
                        Some('\\') => literal.push('\\'),
                        Some(other) => {
                            literal.push('\\');
                            literal.push(other);
                        }
                        None => literal.push('\\'),
                    }
                    continue;
                }
                c => {
                    literal.push(c);
                    continue;
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Format(pieces))
    }

    pub fn write(&self, out: &mut impl Write, record: &ConsumerRecord) -> std::io::Result<()> {
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.write_all(text.as_bytes())?,
                Piece::Topic => out.write_all(record.topic.as_bytes())?,
                Piece::Partition => write!(out, "{}", record.partition)?,
                Piece::Offset => write!(out, "{}", record.offset)?,
                Piece::Key => out.write_all(record.key.as_deref().unwrap_or_default())?,
                Piece::KeyLen => write!(out, "{}", length(record.key.as_deref()))?,
                Piece::Value => out.write_all(record.value.as_deref().unwrap_or_default())?,
                Piece::ValueLen => write!(out, "{}", length(record.value.as_deref()))?,
                Piece::Timestamp => write!(out, "{}", record.timestamp)?,
                Piece::Headers => {
                    for (i, (key, value)) in record.headers.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        write!(out, "{key}=")?;
                        out.write_all(value.as_deref().unwrap_or_default())?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// kcat prints -1 for a null key or value's length.
fn length(bytes: Option<&[u8]>) -> i64 {
    bytes.map_or(-1, |b| b.len() as i64)
}

fn text(bytes: Option<&[u8]>) -> serde_json::Value {
    bytes.map_or(serde_json::Value::Null, |b| {
        serde_json::Value::String(String::from_utf8_lossy(b).into_owned())
    })
}

/// kcat's `-J` object: topic, partition, offset, tstype, ts, headers (a flat list of
/// names and values), key, payload. Bytes that are not UTF-8 are shown lossily.
pub fn json_line(record: &ConsumerRecord) -> String {
    let headers: Vec<serde_json::Value> = record
        .headers
        .iter()
        .flat_map(|(k, v)| [serde_json::Value::String(k.clone()), text(v.as_deref())])
        .collect();
    json!({
        "topic": &*record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "tstype": match record.timestamp_type {
            TimestampType::CreateTime => "create",
            TimestampType::LogAppendTime => "logappend",
        },
        "ts": record.timestamp,
        "headers": headers,
        "key": text(record.key.as_deref()),
        "payload": text(record.value.as_deref()),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: "orders".into(),
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_123,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"user-7")),
            value: None,
            headers: vec![("a".into(), Some(Bytes::from_static(b"1"))), ("b".into(), None)],
        }
    }

    fn render(format: &str) -> String {
        let mut out = Vec::new();
        Format::parse(format).unwrap().write(&mut out, &record()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn kcat_tokens_and_escapes() {
        assert_eq!(
            render("%t/%p@%o %k=%s (%K,%S) %T [%h] 100%%\\n"),
            "orders/2@41 user-7= (6,-1) 1700000000123 [a=1,b=] 100%\n"
        );
        assert!(Format::parse("%x").is_err());
        assert!(Format::parse("%").is_err());
    }

    #[test]
    fn json_uses_kcats_field_names() {
        let parsed: serde_json::Value = serde_json::from_str(&json_line(&record())).unwrap();
        assert_eq!(parsed["topic"], "orders");
        assert_eq!(parsed["offset"], 41);
        assert_eq!(parsed["tstype"], "create");
        assert_eq!(parsed["key"], "user-7");
        assert!(parsed["payload"].is_null());
        assert_eq!(parsed["headers"], json!(["a", "1", "b", null]));
    }
}
