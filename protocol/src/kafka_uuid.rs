//! Kafka's text form of a UUID: the 16 bytes in URL-safe base64 without padding, 22
//! characters (`org.apache.kafka.common.Uuid`). Cluster ids and directory ids are shown
//! and stored this way, as Kafka's tools expect; parsing also takes the dashed form that
//! Brook wrote before.

use uuid::Uuid;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The 22-character form.
pub fn to_kafka_string(id: &Uuid) -> String {
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    // 16 bytes = five 3-byte groups and one byte left over.
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The 22-character form, or the dashed (RFC 4122) form; `None` for anything else.
pub fn parse(text: &str) -> Option<Uuid> {
    let text = text.trim();
    if text.len() != 22 {
        return Uuid::parse_str(text).ok().filter(|_| text.len() == 36);
    }
    let mut value: u128 = 0;
    for (i, c) in text.bytes().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u128;
        if i == 21 {
            // The last character carries the final 2 bits; the other 4 must be zero.
            if digit & 0b1111 != 0 {
                return None;
            }
            value = (value << 2) | (digit >> 4);
        } else {
            value = (value << 6) | digit;
        }
    }
    Some(Uuid::from_u128(value))
}

/// A random id whose text form does not start with '-' (a command line would read it as
/// an option), as Kafka's `Uuid.randomUuid` ensures.
pub fn random() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        if !to_kafka_string(&id).starts_with('-') {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafkas_text_form() {
        // Uuid.toString() of these, from Kafka 4.4's Java client.
        let id = Uuid::parse_str("581ca424-180f-4f44-8a8e-14b5a25e8a5d").unwrap();
        let text = to_kafka_string(&id);
        assert_eq!(text.len(), 22);
        assert_eq!(text, "WBykJBgPT0SKjhS1ol6KXQ");
        assert_eq!(to_kafka_string(&Uuid::nil()), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(to_kafka_string(&Uuid::from_u128(u128::MAX)), "_____________________w");
    }

    #[test]
    fn parses_both_forms_and_nothing_else() {
        for _ in 0..1000 {
            let id = Uuid::new_v4();
            assert_eq!(parse(&to_kafka_string(&id)), Some(id));
            assert_eq!(parse(&id.to_string()), Some(id));
        }
        assert_eq!(parse("_____________________w"), Some(Uuid::from_u128(u128::MAX)));
        assert_eq!(parse("_____________________x"), None, "stray low bits");
        assert_eq!(parse("WBykJBgPT0SKjhS1ol6KX"), None);
        assert_eq!(parse("WBykJBgPT0SKjhS1ol6K=Q"), None);
        assert_eq!(parse("581ca424180f4f448a8e14b5a25e8a5d"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn random_ids_never_start_with_a_dash() {
        for _ in 0..2000 {
            assert!(!to_kafka_string(&random()).starts_with('-'));
        }
    }
}
