//! Bounds-checked readers for Kafka's primitive types over a byte slice.
//!
//! Used by Brook's own decoders (headers, record batches); every read checks the bytes
//! left first, so a short or hostile input is a [`ProtocolError`], never a panic.

use crate::ProtocolError;

/// A cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        if n > self.remaining() {
            return Err(ProtocolError::Truncated {
                what,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ProtocolError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// Unsigned LEB128 varint of at most 32 bits (Kafka's `UNSIGNED_VARINT`).
    pub(crate) fn unsigned_varint(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let (value, used) = crate::records::varint::decode_u64(&self.buf[self.pos..], 5)
            .map_err(|e| ProtocolError::malformed(what, e))?;
        let value = u32::try_from(value).map_err(|_| ProtocolError::malformed(what, "varint over 32 bits"))?;
        self.pos += used;
        Ok(value)
    }

    /// Skips a tagged-field section (flexible versions): a count, then (tag, size, bytes).
    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), ProtocolError> {
        let count = self.unsigned_varint("tagged field count")?;
        for _ in 0..count {
            self.unsigned_varint("tagged field tag")?;
            let size = self.unsigned_varint("tagged field size")? as usize;
            self.take(size, "tagged field value")?;
        }
        Ok(())
    }
}
