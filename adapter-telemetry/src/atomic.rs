//! Files that appear whole or not at all.
//!
//! Each file is written under a temporary name in its final directory (so
//! the rename cannot cross a file system), flushed and synced, then renamed.
//! [`Staged`] holds a set of such files: nothing is renamed until every one
//! is written, and a failure removes the temporary files and the files of
//! the set already renamed, so a failed command leaves none of its files.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Failure, Result};

/// Files written under temporary names, renamed together by [`Staged::commit`].
#[derive(Debug)]
pub(crate) struct Staged {
    dir: PathBuf,
    /// (temporary, final)
    files: Vec<(PathBuf, PathBuf)>,
}

/// Creates `dir` (and its parents) if it is missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| {
        Failure::new(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    if !dir.is_dir() {
        return Err(Failure::new(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    Ok(())
}

impl Staged {
    pub(crate) fn new(dir: &Path) -> Result<Self> {
        ensure_dir(dir)?;
        Ok(Staged {
            dir: dir.to_owned(),
            files: Vec::new(),
        })
    }

    /// Writes `name` under a temporary name through `write`.
    pub(crate) fn write(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
    ) -> Result<()> {
        let target = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let io =
            |e: std::io::Error| Failure::new(format!("cannot write {}: {e}", target.display()));
        let file = File::create(&tmp).map_err(io)?;
        // Registered first, so a failure below removes it.
        self.files.push((tmp.clone(), target.clone()));
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(())
    }

    /// Renames every file to its final name; on a failure removes what this
    /// set wrote (see the module docs).
    pub(crate) fn commit(mut self) -> Result<Vec<PathBuf>> {
        let files = std::mem::take(&mut self.files);
        let mut done = Vec::new();
        for (i, (tmp, target)) in files.iter().enumerate() {
            if let Err(e) = fs::rename(tmp, target) {
                for (t, _) in &files[i..] {
                    let _ = fs::remove_file(t);
                }
                for d in &done {
                    let _ = fs::remove_file(d);
                }
                return Err(Failure::new(format!(
                    "cannot write {}: {e}",
                    target.display()
                )));
            }
            done.push(target.clone());
        }
        // The renames themselves are durable once the directory is synced.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Not committed (an error on the way): no temporary file stays.
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// `std::io::Error` of a writer, for `?` inside [`Staged::write`] closures.
pub(crate) fn io_err(path: &str) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::new(format!("cannot write {path}: {e}"))
}

/// Writes each `(name, bytes)` into `dir` as one [`Staged`] set.
pub(crate) fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    let mut staged = Staged::new(dir)?;
    for (name, bytes) in files {
        staged.write(name, |w| w.write_all(bytes).map_err(io_err(name)))?;
    }
    staged.commit()
}
