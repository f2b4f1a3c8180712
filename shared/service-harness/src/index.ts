export { type CertIssuerProcess, masterKey, startCertIssuer } from './cert-issuer.ts';
export {
  announceRenewalDue,
  attemptsOf,
  certificateRow,
  emittedEvents,
  requestCertificate,
  verifyChain,
} from './certificate-requests.ts';
export {
  type ReadyServiceProcess,
  repoRoot,
  type ServiceProcess,
  startReadyService,
  startServiceProcess,
} from './service-process.ts';
export { type ReceivedMail, type SmtpReceiver, startSmtpReceiver } from './smtp-receiver.ts';
