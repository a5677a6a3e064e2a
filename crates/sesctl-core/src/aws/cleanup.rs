//! What else a user can hold that makes iam:DeleteUser fail with DeleteConflict: a console password,
//! MFA devices, signing certificates, SSH public keys and service-specific credentials. Used by
//! `workflows::delete_user`; the keys, policies and groups are in `iam.rs`.

use super::error::{classify, found, AwsError};
use super::iam::Iam;

/// A service-specific credential (CodeCommit, Keyspaces, Bedrock): its id and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCredential {
    pub id: String,
    pub service: String,
}

impl Iam {
    /// iam:GetLoginProfile: whether the user has a console password.
    pub async fn has_login_profile(&self, user: &str) -> Result<bool, AwsError> {
        match found(
            "iam:GetLoginProfile",
            self.sdk().get_login_profile().user_name(user).send().await,
        )? {
            Some(_) => Ok(true),
            None => Ok(false),
        }
    }

    /// iam:DeleteLoginProfile.
    pub async fn delete_login_profile(&self, user: &str) -> Result<(), AwsError> {
        self.sdk()
            .delete_login_profile()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteLoginProfile", e))?;
        Ok(())
    }

    /// iam:ListMFADevices (all pages): the serial numbers of the user's MFA devices.
    pub async fn list_mfa_devices(&self, user: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .sdk()
            .list_mfa_devices()
            .user_name(user)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListMFADevices", e))?;
            out.extend(page.mfa_devices().iter().map(|d| d.serial_number().to_string()));
        }
        Ok(out)
    }

    /// iam:DeactivateMFADevice.
    pub async fn deactivate_mfa_device(&self, user: &str, serial: &str) -> Result<(), AwsError> {
        self.sdk()
            .deactivate_mfa_device()
            .user_name(user)
            .serial_number(serial)
            .send()
            .await
            .map_err(|e| classify("iam:DeactivateMFADevice", e))?;
        Ok(())
    }

    /// iam:DeleteVirtualMFADevice (for virtual devices, once deactivated).
    pub async fn delete_virtual_mfa_device(&self, serial: &str) -> Result<(), AwsError> {
        self.sdk()
            .delete_virtual_mfa_device()
            .serial_number(serial)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteVirtualMFADevice", e))?;
        Ok(())
    }

    /// iam:ListSigningCertificates (all pages): certificate ids.
    pub async fn list_signing_certificates(&self, user: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .sdk()
            .list_signing_certificates()
            .user_name(user)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListSigningCertificates", e))?;
            out.extend(page.certificates().iter().map(|c| c.certificate_id().to_string()));
        }
        Ok(out)
    }

    /// iam:DeleteSigningCertificate.
    pub async fn delete_signing_certificate(&self, user: &str, id: &str) -> Result<(), AwsError> {
        self.sdk()
            .delete_signing_certificate()
            .user_name(user)
            .certificate_id(id)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteSigningCertificate", e))?;
        Ok(())
    }

    /// iam:ListSSHPublicKeys (all pages): key ids.
    pub async fn list_ssh_public_keys(&self, user: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .sdk()
            .list_ssh_public_keys()
            .user_name(user)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListSSHPublicKeys", e))?;
            out.extend(
                page.ssh_public_keys()
                    .iter()
                    .map(|k| k.ssh_public_key_id().to_string()),
            );
        }
        Ok(out)
    }

    /// iam:DeleteSSHPublicKey.
    pub async fn delete_ssh_public_key(&self, user: &str, id: &str) -> Result<(), AwsError> {
        self.sdk()
            .delete_ssh_public_key()
            .user_name(user)
            .ssh_public_key_id(id)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteSSHPublicKey", e))?;
        Ok(())
    }

    /// iam:ListServiceSpecificCredentials (IAM returns them in one response; the call has no pages).
    pub async fn list_service_specific_credentials(
        &self,
        user: &str,
    ) -> Result<Vec<ServiceCredential>, AwsError> {
        let out = self
            .sdk()
            .list_service_specific_credentials()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify("iam:ListServiceSpecificCredentials", e))?;
        Ok(out
            .service_specific_credentials()
            .iter()
            .map(|c| ServiceCredential {
                id: c.service_specific_credential_id().to_string(),
                service: c.service_name().to_string(),
            })
            .collect())
    }

    /// iam:DeleteServiceSpecificCredential.
    pub async fn delete_service_specific_credential(&self, user: &str, id: &str) -> Result<(), AwsError> {
        self.sdk()
            .delete_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteServiceSpecificCredential", e))?;
        Ok(())
    }
}
