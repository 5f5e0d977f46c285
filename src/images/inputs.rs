//! What goes into one image build, and the key that says two builds would make the same image.
//! Pure: the engine is asked for an image carrying the key (label [`LABEL`]) and, when it has one,
//! the build is not sent at all.
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The label that carries the key of the inputs an image was built from.
pub const LABEL: &str = "lava.build.inputs";

/// The inputs of one build of one image for one platform.
pub struct Inputs<'a> {
    /// The context tar exactly as sent to the engine (it is deterministic: sorted, fixed times).
    pub context: &'a [u8],
    pub platform: &'a str,
    /// Build arguments other than `base`.
    pub build_args: &'a BTreeMap<String, String>,
    /// Labels other than [`LABEL`].
    pub labels: &'a BTreeMap<String, String>,
    /// What the FROM image is: its local image id when the engine has it, else its name.
    pub base: &'a str,
}

/// A hex SHA-256 over every input, each field named and length-prefixed so that no two different
/// sets of inputs can run together into the same bytes.
pub fn key(i: &Inputs<'_>) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_be_bytes());
        h.update(value);
    };
    field("context", i.context);
    field("platform", i.platform.as_bytes());
    field("base", i.base.as_bytes());
    for (k, v) in i.build_args {
        field(&format!("arg {k}"), v.as_bytes());
    }
    for (k, v) in i.labels {
        field(&format!("label {k}"), v.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(
        ctx: &[u8],
        platform: &str,
        args: &[(&str, &str)],
        labels: &[(&str, &str)],
        base: &str,
    ) -> String {
        let a: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let l: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        key(&Inputs {
            context: ctx,
            platform,
            build_args: &a,
            labels: &l,
            base,
        })
    }

    #[test]
    fn the_same_inputs_give_the_same_key_and_any_change_another() {
        let k = with(
            b"tar",
            "linux/amd64",
            &[("os", "x")],
            &[("v", "1")],
            "sha256:a",
        );
        assert_eq!(k.len(), 64);
        assert_eq!(
            k,
            with(
                b"tar",
                "linux/amd64",
                &[("os", "x")],
                &[("v", "1")],
                "sha256:a"
            )
        );
        for other in [
            with(
                b"tar2",
                "linux/amd64",
                &[("os", "x")],
                &[("v", "1")],
                "sha256:a",
            ),
            with(
                b"tar",
                "linux/arm64",
                &[("os", "x")],
                &[("v", "1")],
                "sha256:a",
            ),
            with(
                b"tar",
                "linux/amd64",
                &[("os", "y")],
                &[("v", "1")],
                "sha256:a",
            ),
            with(
                b"tar",
                "linux/amd64",
                &[("os", "x")],
                &[("v", "2")],
                "sha256:a",
            ),
            with(
                b"tar",
                "linux/amd64",
                &[("os", "x")],
                &[("v", "1")],
                "sha256:b",
            ),
            with(b"tar", "linux/amd64", &[], &[("v", "1")], "sha256:a"),
        ] {
            assert_ne!(k, other);
        }
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        // "ab" + "c" and "a" + "bc" are different inputs.
        assert_ne!(
            with(b"", "p", &[("k", "ab"), ("l", "c")], &[], "s"),
            with(b"", "p", &[("k", "a"), ("l", "bc")], &[], "s")
        );
        assert_ne!(
            with(b"", "p", &[("k", "v")], &[], "s"),
            with(b"", "p", &[], &[("k", "v")], "s"),
            "an argument is not a label"
        );
    }
}
