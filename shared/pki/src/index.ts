export { openAppEnv, sealAppEnv } from './app-env.ts';
export { AriCertIdError, ariCertId } from './ari-cert-id.ts';
export {
  buildCertificate,
  type CertificateIssuer,
  type CertificateSpec,
  generatePrivateKeyPem,
  type PemPair,
} from './build-certificate.ts';
export {
  type CertificateFacts,
  certificateFacts,
  keyMatchesCertificate,
  splitCertificateChain,
} from './certificate.ts';
export {
  covers,
  InvalidNameError,
  isInternalName,
  isIpName,
  type NameResult,
  namesKey,
  normalizeName,
  qualifiesForAcmeOrder,
  qualifiesForPublicCert,
  registeredDomain,
  sortNames,
} from './names.ts';
export { lifetimeRenewAt } from './renewal-time.ts';
export {
  appEnvContext,
  certificateKeyContext,
  createSecretBox,
  dnsProviderSecretContext,
  type SecretBox,
  SecretBoxError,
} from './secret-box.ts';
export { createSelfSignedCertificate } from './self-signed.ts';
export {
  type AcceptedCertificate,
  type CertificateUpload,
  type UploadError,
  type UploadVerdict,
  validateCertificateUpload,
} from './uploaded-certificate.ts';
