//! The control plane's certificates, made in-process with rcgen (ECDSA P-256): a CA, the API
//! server's serving certificate (SANs for 127.0.0.1, localhost and the in-cluster names), an
//! admin client certificate in `system:masters`, and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::ControlPlaneError;

/// The files the processes read, and the admin credential the tests use.
pub(crate) struct Pki {
    pub(crate) ca_cert: PathBuf,
    pub(crate) ca_key: PathBuf,
    pub(crate) serving_cert: PathBuf,
    pub(crate) serving_key: PathBuf,
    pub(crate) sa_key: PathBuf,
    pub(crate) sa_pub: PathBuf,
    /// CA certificate, PEM.
    pub(crate) ca_pem: String,
    /// Admin client certificate, PEM.
    pub(crate) admin_cert_pem: String,
    /// Admin client key, PEM (PKCS#8).
    pub(crate) admin_key_pem: String,
}

fn rcgen_error(what: &str, e: rcgen::Error) -> ControlPlaneError {
    ControlPlaneError::Certificates(format!("{what}: {e}"))
}

fn leaf_params(
    common_name: &str,
    organization: Option<&str>,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        p.distinguished_name.push(DnType::OrganizationName, o);
    }
    p.subject_alt_names = sans;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![usage];
    p
}

fn serving_sans() -> Result<Vec<SanType>, ControlPlaneError> {
    let mut sans = vec![
        SanType::IpAddress([127, 0, 0, 1].into()),
        SanType::IpAddress([10, 0, 0, 1].into()),
    ];
    for dns in [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        let name = dns
            .try_into()
            .map_err(|e| rcgen_error("DNS subject alternative name", e))?;
        sans.push(SanType::DnsName(name));
    }
    Ok(sans)
}

impl Pki {
    /// Generates everything and writes the files the processes need into `dir`.
    pub(crate) fn generate(dir: &Path) -> Result<Self, ControlPlaneError> {
        let ca_key = KeyPair::generate().map_err(|e| rcgen_error("CA key", e))?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "multicloud-test-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| rcgen_error("CA certificate", e))?;
        let ca_pem = ca_cert.pem();
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let serving_key = KeyPair::generate().map_err(|e| rcgen_error("serving key", e))?;
        let serving = leaf_params(
            "kube-apiserver",
            None,
            serving_sans()?,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
        .signed_by(&serving_key, &issuer)
        .map_err(|e| rcgen_error("serving certificate", e))?;

        let admin_key = KeyPair::generate().map_err(|e| rcgen_error("admin key", e))?;
        let admin = leaf_params(
            "multicloud-admin",
            Some("system:masters"),
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )
        .signed_by(&admin_key, &issuer)
        .map_err(|e| rcgen_error("admin certificate", e))?;

        let sa_key = KeyPair::generate().map_err(|e| rcgen_error("service-account key", e))?;

        let pki = Self {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
            ca_pem,
            admin_cert_pem: admin.pem(),
            admin_key_pem: admin_key.serialize_pem(),
        };
        for (path, text) in [
            (&pki.ca_cert, pki.ca_pem.as_str()),
            (&pki.ca_key, ca_key_pem.as_str()),
            (&pki.serving_cert, &serving.pem()),
            (&pki.serving_key, &serving_key.serialize_pem()),
            (&pki.sa_key, &sa_key.serialize_pem()),
            (&pki.sa_pub, &sa_key.public_key_pem()),
        ] {
            std::fs::write(path, text).map_err(|e| ControlPlaneError::Io {
                what: format!("writing {}", path.display()),
                source: e,
            })?;
        }
        Ok(pki)
    }
}
