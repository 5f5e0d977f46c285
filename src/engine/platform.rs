//! The platforms lava images, bundles and jobs are built for.
use std::fmt;

/// A Linux platform, as engines and registries name it (`linux/amd64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    Amd64,
    Arm64,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Amd64, Platform::Arm64];

    /// `linux/amd64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Amd64 => "linux/amd64",
            Platform::Arm64 => "linux/arm64",
        }
    }

    /// The registry's architecture name: `amd64`, `arm64` (tag suffixes).
    pub fn arch(self) -> &'static str {
        match self {
            Platform::Amd64 => "amd64",
            Platform::Arm64 => "arm64",
        }
    }

    /// The AMI's and lava's spelling: `x86_64`, `arm64`.
    pub fn ami_arch(self) -> &'static str {
        match self {
            Platform::Amd64 => "x86_64",
            Platform::Arm64 => "arm64",
        }
    }

    /// Parses `linux/amd64`, `linux/arm64` (`linux/arm64/v8` too).
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "linux/amd64" => Some(Platform::Amd64),
            "linux/arm64" | "linux/arm64/v8" => Some(Platform::Arm64),
            _ => None,
        }
    }

    /// This machine's platform.
    pub fn host() -> Platform {
        if std::env::consts::ARCH == "aarch64" {
            Platform::Arm64
        } else {
            Platform::Amd64
        }
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn names_of_each_platform() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(Platform::parse("linux/arm64/v8"), Some(Platform::Arm64));
        assert_eq!(Platform::parse("linux/386"), None);
        assert_eq!(Platform::Amd64.ami_arch(), "x86_64");
    }
}
