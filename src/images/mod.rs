//! Docker images: the lava images' inputs, BuildKit builds per platform, checks.
//! The engine itself is `crate::engine`, pushes and credentials are `crate::registry`.
pub mod checks;
pub mod inputs;
pub mod pipeline;

use std::fmt;

/// The two lava images of an OS: `base`, and `full` built FROM it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageType {
    Base,
    Full,
}

impl ImageType {
    pub const ALL: [ImageType; 2] = [ImageType::Base, ImageType::Full];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::Base => "base",
            ImageType::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<ImageType> {
        ImageType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ImageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
