//! Varints as Kafka writes them: LEB128, and zigzag for signed values.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    #[error("varint runs past the end of the input")]
    Truncated,
    #[error("varint is longer than its type allows")]
    TooLong,
}

/// Decodes an unsigned LEB128 varint of at most `max_bytes` bytes; returns it and its length.
#[inline]
pub fn decode_u64(buf: &[u8], max_bytes: usize) -> Result<(u64, usize), VarintError> {
    // Fast path: most varints in a record (small deltas and lengths) are one byte.
    match buf.first() {
        None => return Err(VarintError::Truncated),
        Some(&b) if b < 0x80 => return Ok((u64::from(b), 1)),
        Some(_) => {}
    }
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(max_bytes) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() < max_bytes {
        Err(VarintError::Truncated)
    } else {
        Err(VarintError::TooLong)
    }
}

/// Decodes a zigzag `varint` (32-bit).
#[inline]
pub fn decode_i32(buf: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, used) = decode_u64(buf, 5)?;
    let raw = u32::try_from(raw).map_err(|_| VarintError::TooLong)?;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Decodes a zigzag `varlong` (64-bit).
#[inline]
pub fn decode_i64(buf: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, used) = decode_u64(buf, 10)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

/// Appends an unsigned LEB128 varint.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a zigzag varint (`varint` and `varlong` share the encoding).
#[inline]
pub fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Bytes a zigzag varint of `value` takes.
#[inline]
pub fn len_i64(value: i64) -> usize {
    let raw = ((value << 1) ^ (value >> 63)) as u64;
    (64 - raw.max(1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_encodings() {
        // From the Kafka protocol guide's zigzag table.
        for (value, bytes) in [
            (0i64, &[0u8][..]),
            (-1, &[1]),
            (1, &[2]),
            (-64, &[0x7f]),
            (64, &[0x80, 1]),
        ] {
            let mut out = Vec::new();
            put_i64(&mut out, value);
            assert_eq!(out, bytes);
            assert_eq!(decode_i64(bytes), Ok((value, bytes.len())));
            assert_eq!(len_i64(value), bytes.len());
        }
    }

    #[test]
    fn truncated_and_overlong_inputs_are_errors() {
        assert_eq!(decode_i32(&[]), Err(VarintError::Truncated));
        assert_eq!(decode_i32(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(decode_i32(&[0xff; 6]), Err(VarintError::TooLong));
        assert_eq!(decode_i32(&[0xff, 0xff, 0xff, 0xff, 0x7f]), Err(VarintError::TooLong));
        assert_eq!(decode_i64(&[0xff; 11]), Err(VarintError::TooLong));
    }

    proptest! {
        #[test]
        fn i64_round_trips(value: i64) {
            let mut out = Vec::new();
            put_i64(&mut out, value);
            prop_assert_eq!(out.len(), len_i64(value));
            prop_assert_eq!(decode_i64(&out), Ok((value, out.len())));
        }

        #[test]
        fn i32_round_trips(value: i32) {
            let mut out = Vec::new();
            put_i64(&mut out, i64::from(value));
            prop_assert_eq!(decode_i32(&out), Ok((value, out.len())));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode_i32(&bytes);
            let _ = decode_i64(&bytes);
        }
    }
}
