//! Records inside an uncompressed records section, read lazily and without copying.
//!
//! ```text
//! length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
//! keyLength varint | key | valueLength varint | value | headerCount varint
//! headers: (keyLength varint | key | valueLength varint | value)*
//! ```

use super::RecordError;
use super::varint::{decode_i32, decode_i64};

/// One record, borrowing its key, value and headers from the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    header_count: i32,
    headers: &'a [u8],
}

/// One record header, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// A cursor over one record's bytes; every read is bounded by them.
struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn varint(&mut self, what: &'static str) -> Result<i32, RecordError> {
        let (value, used) = decode_i32(self.buf).map_err(|_| RecordError::MalformedRecord(what))?;
        self.buf = &self.buf[used..];
        Ok(value)
    }

    fn varlong(&mut self, what: &'static str) -> Result<i64, RecordError> {
        let (value, used) = decode_i64(self.buf).map_err(|_| RecordError::MalformedRecord(what))?;
        self.buf = &self.buf[used..];
        Ok(value)
    }

    fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        if len > self.buf.len() {
            return Err(RecordError::MalformedRecord(what));
        }
        let (out, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(out)
    }

    /// A length-prefixed field where -1 means null.
    fn nullable(&mut self, what: &'static str) -> Result<Option<&'a [u8]>, RecordError> {
        match self.varint(what)? {
            -1 => Ok(None),
            len if len >= 0 => self.bytes(len as usize, what).map(Some),
            _ => Err(RecordError::MalformedRecord(what)),
        }
    }
}

impl<'a> Record<'a> {
    fn parse(body: &'a [u8]) -> Result<Record<'a>, RecordError> {
        let mut cursor = Cursor { buf: body };
        let attributes = cursor.bytes(1, "attributes")?[0] as i8;
        let timestamp_delta = cursor.varlong("timestamp delta")?;
        let offset_delta = cursor.varint("offset delta")?;
        let key = cursor.nullable("key")?;
        let value = cursor.nullable("value")?;
        let header_count = cursor.varint("header count")?;
        if header_count < 0 {
            return Err(RecordError::MalformedRecord("header count"));
        }
        let record = Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers: cursor.buf,
        };
        // Walk the headers once so that a record handed out is known to be well formed
        // to its end; the walk allocates nothing.
        let mut consumed = 0;
        for header in record.headers() {
            header?;
            consumed += 1;
        }
        if consumed != header_count {
            return Err(RecordError::MalformedRecord("header count"));
        }
        Ok(record)
    }

    pub fn header_count(&self) -> i32 {
        self.header_count
    }

    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter {
            cursor: Cursor { buf: self.headers },
            remaining: self.header_count,
        }
    }
}

/// The headers of a record.
pub struct HeaderIter<'a> {
    cursor: Cursor<'a>,
    remaining: i32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Result<Header<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining <= 0 {
            return None;
        }
        self.remaining -= 1;
        let header = (|| {
            let key_len = self.cursor.varint("header key")?;
            if key_len < 0 {
                return Err(RecordError::MalformedRecord("header key"));
            }
            let key = self.cursor.bytes(key_len as usize, "header key")?;
            let value = self.cursor.nullable("header value")?;
            Ok(Header { key, value })
        })();
        if header.is_err() {
            self.remaining = 0;
        }
        Some(header)
    }
}

/// The records of an uncompressed records section.
///
/// Yields exactly `records_count` records; a section that ends early, or has bytes left
/// after the last record, yields an error.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    remaining: i32,
}

impl<'a> RecordIter<'a> {
    pub fn new(payload: &'a [u8], records_count: i32) -> Self {
        RecordIter {
            rest: payload,
            remaining: records_count.max(0),
        }
    }

    fn next_record(&mut self) -> Result<Record<'a>, RecordError> {
        let (len, used) = decode_i32(self.rest).map_err(|_| RecordError::MalformedRecord("record length"))?;
        let len = usize::try_from(len).map_err(|_| RecordError::MalformedRecord("record length"))?;
        let body = self.rest.get(used..used + len).ok_or(RecordError::Truncated {
            what: "record",
            needed: len,
            available: self.rest.len() - used,
        })?;
        let record = Record::parse(body)?;
        self.rest = &self.rest[used + len..];
        Ok(record)
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            if self.rest.is_empty() {
                return None;
            }
            let trailing = self.rest.len();
            self.rest = &[];
            return Some(Err(RecordError::TrailingBytes(trailing)));
        }
        self.remaining -= 1;
        let record = self.next_record();
        if record.is_err() {
            self.remaining = 0;
            self.rest = &[];
        }
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize + 1))
    }
}
