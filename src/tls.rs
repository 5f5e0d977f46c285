//! The one TLS crypto provider of the whole program.
//!
//! Every TLS client in the tree (the AWS SDK, the OCI registry client, bollard's engine client)
//! is rustls over aws-lc-rs, and only that provider is compiled in. bollard builds its TLS
//! configuration from the process-wide default provider, so the binaries install it first thing.

/// Installs aws-lc-rs as the process-wide rustls crypto provider. Idempotent: a second call, or a
/// call after something else installed the same provider, changes nothing.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed a provider in between: the same one, since no
        // other provider is compiled in.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_provider_is_installed_once_and_is_aws_lc_rs() {
        super::install_crypto_provider();
        super::install_crypto_provider();
        let p = rustls::crypto::CryptoProvider::get_default().expect("a provider is installed");
        let ours = rustls::crypto::aws_lc_rs::default_provider();
        assert_eq!(
            p.cipher_suites.len(),
            ours.cipher_suites.len(),
            "the installed provider is aws-lc-rs's"
        );
    }
}
