//! The codecs a batch's `attributes` can name. Brook's broker moves compressed batches as
//! they are; these are for the client and for deep validation.
//!
//! Decompression is always bounded: a batch claiming to inflate past the caller's limit
//! is refused, so a small compressed "bomb" cannot exhaust memory.

use std::io::{Read, Write};

use super::RecordError;

/// Compression codec, bits 0–2 of a batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

/// snappy-java's stream header, which the Java client writes before its snappy blocks.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
const XERIAL_HEADER_LEN: usize = 16;

impl Compression {
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    pub fn from_attributes(attributes: i16) -> Result<Self, RecordError> {
        match (attributes & 0x07) as u8 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(RecordError::UnknownCompression(other)),
        }
    }

    /// The attribute bits for this codec.
    pub fn attribute_bits(self) -> i16 {
        self as i16
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    fn error(self, reason: impl std::fmt::Display) -> RecordError {
        RecordError::Codec {
            codec: self.name(),
            reason: reason.to_string(),
        }
    }

    /// Appends `input` compressed with this codec to `out`.
    pub fn compress(self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        match self {
            Compression::None => out.extend_from_slice(input),
            Compression::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                encoder.write_all(input).map_err(|e| self.error(e))?;
                encoder.finish().map_err(|e| self.error(e))?;
            }
            Compression::Snappy => {
                // A raw snappy block: what librdkafka writes, and what every client reads.
                let start = out.len();
                out.resize(start + snap::raw::max_compress_len(input.len()), 0);
                let written = snap::raw::Encoder::new()
                    .compress(input, &mut out[start..])
                    .map_err(|e| self.error(e))?;
                out.truncate(start + written);
            }
            Compression::Lz4 => {
                let mut encoder = lz4_flex::frame::FrameEncoder::new(out);
                encoder.write_all(input).map_err(|e| self.error(e))?;
                encoder.finish().map_err(|e| self.error(e))?;
            }
            Compression::Zstd => {
                zstd::stream::copy_encode(input, out, zstd::DEFAULT_COMPRESSION_LEVEL).map_err(|e| self.error(e))?;
            }
        }
        Ok(())
    }

    /// Decompresses `input`, refusing output larger than `limit` bytes.
    pub fn decompress(self, input: &[u8], limit: usize) -> Result<Vec<u8>, RecordError> {
        match self {
            Compression::None => {
                if input.len() > limit {
                    return Err(RecordError::DecompressedTooLarge { limit });
                }
                Ok(input.to_vec())
            }
            Compression::Gzip => read_bounded(self, flate2::read::GzDecoder::new(input), limit),
            Compression::Lz4 => read_bounded(self, lz4_flex::frame::FrameDecoder::new(input), limit),
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(|e| self.error(e))?;
                read_bounded(self, decoder, limit)
            }
            Compression::Snappy => {
                let mut out = Vec::new();
                if input.starts_with(XERIAL_MAGIC) {
                    decompress_xerial(input, limit, &mut out)?;
                } else {
                    decompress_snappy_block(input, limit, &mut out)?;
                }
                Ok(out)
            }
        }
    }
}

fn read_bounded(codec: Compression, reader: impl Read, limit: usize) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| codec.error(e))?;
    if out.len() > limit {
        return Err(RecordError::DecompressedTooLarge { limit });
    }
    Ok(out)
}

fn decompress_snappy_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let codec = Compression::Snappy;
    let len = snap::raw::decompress_len(block).map_err(|e| codec.error(e))?;
    if out.len() + len > limit {
        return Err(RecordError::DecompressedTooLarge { limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| codec.error(e))?;
    Ok(())
}

/// snappy-java framing: a 16-byte header, then blocks of (int32 length, raw snappy).
fn decompress_xerial(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let codec = Compression::Snappy;
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| codec.error("truncated snappy-java header"))?;
    while !rest.is_empty() {
        let (len, body) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| codec.error("truncated snappy-java block length"))?;
        let len = u32::from_be_bytes(*len) as usize;
        let block = body
            .get(..len)
            .ok_or_else(|| codec.error("truncated snappy-java block"))?;
        decompress_snappy_block(block, limit, out)?;
        rest = &body[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let input: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for codec in Compression::ALL {
            let mut compressed = Vec::new();
            codec.compress(&input, &mut compressed).unwrap();
            assert_eq!(codec.decompress(&compressed, input.len()).unwrap(), input, "{codec:?}");
        }
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let input = vec![0u8; 1 << 20];
        for codec in Compression::ALL {
            let mut compressed = Vec::new();
            codec.compress(&input, &mut compressed).unwrap();
            assert_eq!(
                codec.decompress(&compressed, 1000),
                Err(RecordError::DecompressedTooLarge { limit: 1000 }),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn snappy_java_framing_is_read() {
        let input = b"hello hello hello hello snappy-java".repeat(20);
        let mut framed = XERIAL_MAGIC.to_vec();
        framed.extend_from_slice(&1i32.to_be_bytes());
        framed.extend_from_slice(&1i32.to_be_bytes());
        for half in input.chunks(input.len() / 2 + 1) {
            let mut block = Vec::new();
            Compression::Snappy.compress(half, &mut block).unwrap();
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(Compression::Snappy.decompress(&framed, 1 << 20).unwrap(), input);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in Compression::ALL[1..].iter() {
            assert!(
                codec.decompress(b"\x82SNAPPY\0garbage-garbage", 1 << 20).is_err(),
                "{codec:?}"
            );
            assert!(codec.decompress(&[0xff; 64], 1 << 20).is_err(), "{codec:?}");
        }
    }

    #[test]
    fn unknown_codec_bits_are_refused() {
        assert_eq!(Compression::from_attributes(5), Err(RecordError::UnknownCompression(5)));
        assert_eq!(Compression::from_attributes(0x0b), Ok(Compression::Lz4));
    }
}
