//! The files the tool never ships: dot files and folders, editor swap and backup files. One rule
//! for the provisioning tarball, the sync of the build resources and image build contexts.

/// Whether a file or folder name is left out: dot files and folders (`.git`, `.DS_Store`, `._x`),
/// vim swap files (`.swp`, `.swo`, `.swx`), backups (`x~`) and Emacs autosaves (`#x#`).
pub fn ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with(".swp")
        || name.ends_with(".swo")
        || name.ends_with(".swx")
        || name.ends_with('~')
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
}

#[cfg(test)]
mod tests {
    use super::ignored_name;

    #[test]
    fn dot_swap_and_backup_files_only() {
        for n in [
            ".git",
            ".DS_Store",
            "._x",
            "a.swp",
            "a.swo",
            "a.swx",
            "notes~",
            "#a#",
        ] {
            assert!(ignored_name(n), "{n}");
        }
        for n in ["a.zip", "swp", "#", "a#", "conf.d", "10-a.sh"] {
            assert!(!ignored_name(n), "{n}");
        }
    }
}
