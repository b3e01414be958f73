//! Kafka's plain-text checkpoint files: a version line, a count line, then one entry
//! per line. Written atomically (temp file, fsync, rename, fsync of the directory), so
//! a crash leaves either the old file or the new one.

use std::io::{self, Write};
use std::path::Path;

use super::mapping::sync_dir;

const VERSION: u32 = 0;

/// Writes `lines` (already formatted entries) as a checkpoint file at `path`.
pub(crate) fn write(path: &Path, lines: &[String]) -> io::Result<()> {
    let mut text = format!("{VERSION}\n{}\n", lines.len());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Reads the entries of a checkpoint file; a missing file has none. A file that does
/// not parse is an error: callers decide whether to fall back to a safe default.
pub(crate) fn read(path: &Path) -> io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()));
    let mut lines = text.lines();
    match lines.next().map(str::parse::<u32>) {
        Some(Ok(VERSION)) => {}
        _ => return Err(invalid("unknown version")),
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| invalid("bad entry count"))?;
    let entries: Vec<String> = lines.map(str::to_owned).collect();
    if entries.len() != count {
        return Err(invalid("entry count does not match"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_torn_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        assert!(read(&path).unwrap().is_empty());
        write(&path, &["a 0 5".into(), "b 1 7".into()]).unwrap();
        assert_eq!(read(&path).unwrap(), vec!["a 0 5", "b 1 7"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n2\na 0 5\nb 1 7\n");
        std::fs::write(&path, "0\n3\na 0 5\n").unwrap();
        assert!(read(&path).is_err());
    }
}
