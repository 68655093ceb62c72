//! The PKI of one test control plane: a CA, the apiservers' serving certificate, an admin client
//! certificate, and the service-account signing key. Generated fresh for every control plane, so
//! nothing secret is ever checked in or shared between runs.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::HarnessError;

/// PEM text of every certificate and key a control plane needs.
pub(crate) struct Pki {
    pub ca_cert: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub admin_cert: String,
    pub admin_key: String,
    pub service_account_key: String,
    pub service_account_public_key: String,
}

impl Pki {
    pub(crate) fn generate() -> Result<Self, HarnessError> {
        let ca_params = {
            let mut p = CertificateParams::new(Vec::<String>::new())?;
            p.distinguished_name = name("prtracker-testenv-ca", None);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            p
        };
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let serving_key = KeyPair::generate()?;
        let serving_cert = {
            let mut p =
                CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
            p.distinguished_name = name("kube-apiserver", None);
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.signed_by(&serving_key, &ca)?
        };

        // system:masters is the group the apiserver lets do anything, before RBAC is consulted.
        let admin_key = KeyPair::generate()?;
        let admin_cert = {
            let mut p = CertificateParams::new(Vec::<String>::new())?;
            p.distinguished_name = name("prtracker-testenv-admin", Some("system:masters"));
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            p.signed_by(&admin_key, &ca)?
        };

        let service_account = KeyPair::generate()?;
        Ok(Self {
            ca_cert: ca.pem(),
            serving_cert: serving_cert.pem(),
            serving_key: serving_key.serialize_pem(),
            admin_cert: admin_cert.pem(),
            admin_key: admin_key.serialize_pem(),
            service_account_key: service_account.serialize_pem(),
            service_account_public_key: service_account.public_key_pem(),
        })
    }
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn
}
