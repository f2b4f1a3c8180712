import type { ApiClient } from './api-client.ts';

/** What every command gets: the API client, whether to print JSON, and where output goes. */
export interface CommandContext {
  client: ApiClient;
  json: boolean;
  print(text: string): void;
  /** Warnings and progress; kept off stdout so `--json` output stays one document. */
  note(text: string): void;
}

/** Prints `value` as one JSON document (with --json) or the text `render` makes of it. */
export function output(context: CommandContext, value: unknown, render: () => string): void {
  context.print(context.json ? JSON.stringify(value, null, 2) : render());
}
