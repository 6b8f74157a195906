//! Small file helpers: owner-only directories, atomically written key files, and the
//! directory lock that lets several processes start at once on one data directory.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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

/// Runs `f` holding an exclusive lock on `dir` (an advisory `flock` on `dir/.lock`,
/// released when `f` returns or the process dies), after creating `dir` (0700).
///
/// Secrets are loaded or made under it: without it two processes started together
/// (two workers, a worker and a health manager) could each make their own CA or
/// heartbeat key, or read a key file the other has only half written.
pub fn with_dir_lock<T>(
    dir: &Path,
    f: impl FnOnce() -> Result<T, CertError>,
) -> Result<T, CertError> {
    ensure_dir(dir)?;
    let path = dir.join(".lock");
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    lock.lock().map_err(io_err(&path))?;
    let result = f();
    drop(lock);
    result
}

/// Reads the secret in `path` (surrounding whitespace trimmed), or, when the file is
/// missing, stores `make()` there first. The file is made 0600 (narrowed when it was
/// wider) in a 0700 directory; an empty file is an error, never a key.
pub fn load_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> String,
) -> Result<String, CertError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    with_dir_lock(dir, || {
        if !path.exists() {
            write_atomic(path, &make(), 0o600)?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
        let secret = read(path)?.trim().to_owned();
        if secret.is_empty() {
            return Err(CertError::Io {
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::InvalidData, "the file is empty"),
            });
        }
        Ok(secret)
    })
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
