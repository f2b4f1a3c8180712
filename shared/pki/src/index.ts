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
  type CertificateMode,
  certificateModeProblem,
  certificateModes,
  defaultCertificateMode,
} from './certificate-mode.ts';
export { createCsrDer, createCsrPem } from './csr.ts';
export {
  createLocalCaIntermediate,
  createLocalCaRoot,
  intermediateRotateAt,
  localCaLifetimes,
  signLocalCaLeaf,
} from './local-ca.ts';
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
export { lifetimeRenewAt, type Random, spreadRenewAt } from './renewal-time.ts';
export {
  appEnvContext,
  certificateKeyContext,
  createSecretBox,
  dnsProviderSecretContext,
  localCaKeyContext,
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
