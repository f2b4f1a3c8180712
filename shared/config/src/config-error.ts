/** One problem with one environment variable, phrased so an operator knows what to change. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Thrown by `loadConfig` when the environment cannot be turned into a valid configuration. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      `invalid configuration:\n${issues.map((issue) => `  ${issue.variable}: ${issue.message}`).join('\n')}`,
    );
    this.issues = issues;
  }
}
