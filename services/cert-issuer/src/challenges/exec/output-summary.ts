/** The longest summary of a program's output that reaches an error message. */
export const maxSummaryLength = 160;

/**
 * A bounded, sanitised summary of what a program wrote to stderr, safe for API-visible errors, attempts and
 * mails: its last non-empty line only (scripts print the reason last, and `set -x` traces first), control
 * characters and ANSI escapes removed, anything shaped like a credential (long runs of letters and digits,
 * `key=value` secrets, URL passwords) and the given `known` values replaced by `[hidden]`, cut to
 * `maxSummaryLength` characters.
 */
export function summarizeOutput(output: string, known: readonly string[] = []): string {
  const lines = output
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escapes is the point
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  let line = lines.at(-1) ?? '';
  for (const value of known) if (value.length >= 4) line = line.split(value).join('[hidden]');
  line = line
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
    .replace(/(\/\/[^:/@\s]+:)[^@\s]*@/g, '$1[hidden]@')
    .replace(
      /\b(password|passwd|secret|token|key|apikey|api_key|authorization)(\s*[=:]\s*)\S+/gi,
      '$1$2[hidden]',
    )
    .replace(/\b(bearer|basic)\s+\S+/gi, '$1 [hidden]')
    .replace(/[A-Za-z0-9+/_-]{20,}={0,2}/g, (run) =>
      // A long run with both letters and digits is a key or token, not a word or a path.
      /[0-9]/.test(run) && /[A-Za-z]/.test(run) && !run.includes('//') ? '[hidden]' : run,
    );
  return line.length > maxSummaryLength ? `${line.slice(0, maxSummaryLength - 1)}…` : line;
}
