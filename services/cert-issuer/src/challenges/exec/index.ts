export { createExecProvider, type ExecProviderOptions } from './exec-provider.ts';
