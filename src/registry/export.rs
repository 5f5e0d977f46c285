//! Reading the engine's export of an image (`docker save`: the legacy layout with `<id>/layer.tar`
//! or the OCI layout with `blobs/sha256/…`) in place: where each entry's bytes are in the file,
//! links followed, without unpacking anything.
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Bytes `offset..offset+len` of `file`: where a blob is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub file: PathBuf,
    pub offset: u64,
    pub len: u64,
}

/// An export file and where its entries are.
pub struct Export {
    path: PathBuf,
    entries: HashMap<String, Entry>,
}

/// Where each entry of a tar file is: its data, or the entry a hard or symbolic link points at.
enum Entry {
    Data { offset: u64, len: u64 },
    Link(String),
}

/// Why an image export cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the export has no {0}")]
    Missing(String),
}

pub fn read_err(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Read {
        path: path.to_path_buf(),
        source,
    }
}

impl Export {
    /// Indexes the tar file `export` (one pass over its headers).
    pub fn open(export: &Path) -> Result<Export, ExportError> {
        Ok(Export {
            path: export.to_path_buf(),
            entries: entries(export)?,
        })
    }

    /// The region of entry `name`, following links (a layer shared by two images of one export
    /// is a link to the first).
    pub fn locate(&self, name: &str) -> Result<Region, ExportError> {
        let mut name = normal(name);
        for _ in 0..16 {
            match self.entries.get(&name) {
                Some(Entry::Data { offset, len }) => {
                    return Ok(Region {
                        file: self.path.clone(),
                        offset: *offset,
                        len: *len,
                    });
                }
                Some(Entry::Link(to)) => name = to.clone(),
                None => break,
            }
        }
        Err(ExportError::Missing(name))
    }
}

fn entries(export: &Path) -> Result<HashMap<String, Entry>, ExportError> {
    let err = read_err(export);
    let file = File::open(export).map_err(&err)?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let mut out = HashMap::new();
    for e in archive.entries().map_err(&err)? {
        let e = e.map_err(&err)?;
        let name = normal(&e.path().map_err(&err)?.to_string_lossy());
        let entry = match e.header().entry_type() {
            t if t.is_symlink() || t.is_hard_link() => {
                let target = e.link_name().map_err(&err)?.unwrap_or_default();
                let target = target.to_string_lossy();
                // A symbolic link is relative to its own folder; a hard link to the archive.
                Entry::Link(match t.is_symlink() && !target.starts_with('/') {
                    true => normal(&format!("{}/{target}", parent(&name))),
                    false => normal(&target),
                })
            }
            _ => Entry::Data {
                offset: e.raw_file_position(),
                len: e.size(),
            },
        };
        out.insert(name, entry);
    }
    Ok(out)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// `a/./b/../c` → `a/c`, without a leading `./` or `/`.
fn normal(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The bytes of `r`.
pub fn read_region(r: &Region) -> Result<Vec<u8>, ExportError> {
    let err = read_err(&r.file);
    let mut f = File::open(&r.file).map_err(&err)?;
    f.seek(SeekFrom::Start(r.offset)).map_err(&err)?;
    let mut out = Vec::with_capacity(r.len as usize);
    f.take(r.len).read_to_end(&mut out).map_err(&err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normal("./a/../b/./c"), "b/c");
        assert_eq!(normal("/blobs/sha256/x"), "blobs/sha256/x");
        assert_eq!(parent("l3/layer.tar"), "l3");
    }
}
