//! The authentication part of the server configuration (spec §1).

use std::fmt;

/// Keys and switches that decide how requests authenticate.
///
/// `Debug` never prints a secret: only whether each key is set.
#[derive(Clone, Default)]
pub struct AuthConfig {
    /// `service.api_key`: global manage; also the HS256 secret for JWTs.
    pub api_key: Option<String>,
    /// `service.alt_api_key`: a second admin key and JWT secret, for rotation.
    pub alt_api_key: Option<String>,
    /// `service.read_only_api_key`: global read; never a JWT secret.
    pub read_only_api_key: Option<String>,
    /// `service.jwt_rbac`: accept JWTs signed with `api_key` / `alt_api_key`.
    pub jwt_rbac: bool,
    /// SHA-256 digests of further admin keys (e.g. a bootstrap key whose plain
    /// text is not kept). They grant global manage but are never JWT secrets.
    pub admin_key_hashes: Vec<[u8; 32]>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn set(key: &Option<String>) -> &'static str {
            if key.is_some() { "<set>" } else { "<unset>" }
        }
        f.debug_struct("AuthConfig")
            .field("api_key", &set(&self.api_key))
            .field("alt_api_key", &set(&self.alt_api_key))
            .field("read_only_api_key", &set(&self.read_only_api_key))
            .field("jwt_rbac", &self.jwt_rbac)
            .field("admin_key_hashes", &self.admin_key_hashes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prevents a secret from reaching logs through `{:?}` of the config.
    #[test]
    fn debug_hides_secrets() {
        let config = AuthConfig {
            api_key: Some("super-secret-admin".into()),
            alt_api_key: None,
            read_only_api_key: Some("super-secret-ro".into()),
            jwt_rbac: true,
            admin_key_hashes: vec![[7; 32]],
        };
        let text = format!("{config:?}");
        assert!(!text.contains("super-secret"), "{text}");
        assert!(text.contains("<set>") && text.contains("<unset>"), "{text}");
    }
}
