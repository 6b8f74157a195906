//! Small file helpers: owner-only directories and atomically written key files.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::CertError;

/// Wraps an IO error with the path it concerns.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CertError + '_ {
    move |source| CertError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` (and parents) with mode 0700 if it does not exist.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), CertError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Reads a UTF-8 file.
pub(crate) fn read(path: &Path) -> Result<String, CertError> {
    fs::read_to_string(path).map_err(io_err(path))
}

/// Writes `contents` to `path` with the given mode via a temporary file and a rename,
/// so a reader never sees a partial file.
pub(crate) fn write_atomic(path: &Path, contents: &str, mode: u32) -> Result<(), CertError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    // A leftover from a crash may have another mode; start from a fresh file.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&tmp)(e)),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// Whether both, neither or only one of a certificate/key pair exist.
pub(crate) fn pair_exists(cert: &Path, key: &Path) -> Result<bool, CertError> {
    match (cert.exists(), key.exists()) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (true, false) => Err(CertError::IncompletePair {
            present: cert.to_owned(),
            missing: key.to_owned(),
        }),
        (false, true) => Err(CertError::IncompletePair {
            present: key.to_owned(),
            missing: cert.to_owned(),
        }),
    }
}
