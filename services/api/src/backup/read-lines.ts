import { ApiError } from '../errors.ts';

/**
 * The lines of a byte stream (`\n`-separated, the last one may lack it), refusing any line longer than
 * `maxLineBytes` so a hostile upload cannot make one line fill the memory. Empty lines are skipped.
 */
export async function* readLines(
  stream: AsyncIterable<Buffer | string>,
  maxLineBytes: number,
): AsyncGenerator<string> {
  let pending = '';
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() !== '') yield line;
      newline = pending.indexOf('\n');
    }
    if (pending.length > maxLineBytes) {
      throw new ApiError(
        'validation',
        `a line of the archive is longer than ${maxLineBytes} bytes; nothing was restored`,
      );
    }
  }
  if (pending.trim() !== '') yield pending;
}
