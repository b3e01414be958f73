//! `brook protocol`: look at the Kafka wire protocol as Brook speaks it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use brook_protocol::api::SUPPORTED_APIS;
use brook_protocol::codec::{RequestError, decode_request};
use brook_protocol::frame::FrameDecoder;
use bytes::BytesMut;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ProtocolCommand {
    /// Print the ApiVersions table: every API Brook decodes and its version range.
    ApiVersions,
    /// Decode request frames captured from the wire (size prefix included) and print them.
    Decode {
        /// Files holding one or more size-prefixed request frames.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(command: ProtocolCommand) -> Result<()> {
    match command {
        ProtocolCommand::ApiVersions => {
            println!("{:<26} {:>4} {:>4} {:>4}", "API", "KEY", "MIN", "MAX");
            for api in SUPPORTED_APIS {
                println!(
                    "{:<26} {:>4} {:>4} {:>4}",
                    format!("{:?}", api.key),
                    api.key as i16,
                    api.min_version,
                    api.max_version
                );
            }
            Ok(())
        }
        ProtocolCommand::Decode { files } => decode_files(&files),
    }
}

fn decode_files(files: &[PathBuf]) -> Result<()> {
    let mut failures = 0;
    for path in files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut buf = BytesMut::from(&bytes[..]);
        let decoder = FrameDecoder::default();
        while !buf.is_empty() {
            let Some(frame) = decoder
                .decode(&mut buf)
                .with_context(|| format!("framing {}", path.display()))?
            else {
                bail!(
                    "{}: {} bytes of an incomplete frame at the end",
                    path.display(),
                    buf.len()
                );
            };
            match decode_request(&frame) {
                Ok(request) => println!(
                    "{}: {:?} v{} correlation_id={} client_id={:?}\n{:#?}",
                    path.display(),
                    request.api_key,
                    request.header.api_version,
                    request.header.correlation_id,
                    request.header.client_id.as_deref(),
                    request.body
                ),
                Err(RequestError::Refused { header, error }) => {
                    failures += 1;
                    eprintln!(
                        "{}: api key {} v{} correlation_id={}: {error} (answered with {:?})",
                        path.display(),
                        header.api_key,
                        header.api_version,
                        header.correlation_id,
                        error.error_code()
                    );
                }
                Err(RequestError::Header(error)) => {
                    failures += 1;
                    eprintln!("{}: unreadable header: {error}", path.display());
                }
            }
        }
    }
    if failures > 0 {
        bail!("{failures} frame(s) could not be decoded");
    }
    Ok(())
}
