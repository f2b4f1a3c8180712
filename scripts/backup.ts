// npm run backup -- [--out FILE]   saves GET /v1/backup of a running api (default gatehouse-<time>.backup)
// npm run restore -- FILE          posts FILE to /v1/restore of a running api (an empty installation)
// Reads GATEHOUSE_URL (default http://127.0.0.1:8080) and GATEHOUSE_API_TOKEN. Exit codes: 0 done, 1 the api
// refused or failed (its problem is printed), 2 bad usage or configuration.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const mediaType = 'application/vnd.gatehouse.backup';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run backup -- [--out FILE] | npm run restore -- FILE\n`);
  process.exit(2);
}

function apiSettings(): { url: URL; token: string } {
  const token = process.env.GATEHOUSE_API_TOKEN?.trim();
  if (!token) usage('GATEHOUSE_API_TOKEN is not set: export the api token first');
  const raw = process.env.GATEHOUSE_URL?.trim() || 'http://127.0.0.1:8080';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    usage(`GATEHOUSE_URL is not a URL: "${raw}" (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    usage('GATEHOUSE_URL must be http:// or https://');
  return { url, token };
}

async function failWith(response: Response): Promise<never> {
  const text = await response.text();
  let detail = text;
  try {
    const problem = JSON.parse(text) as { detail?: string; title?: string };
    detail = problem.detail ?? problem.title ?? text;
  } catch {
    // not problem+json: print as it came
  }
  process.stderr.write(`the api answered ${response.status}: ${detail}\n`);
  process.exit(1);
}

async function backup(out: string | undefined): Promise<void> {
  const { url, token } = apiSettings();
  const file = out ?? `gatehouse-${new Date().toISOString().replace(/[:.]/g, '-')}.backup`;
  const response = await fetch(new URL('/v1/backup', url), { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok || !response.body) await failWith(response);
  // Into a temporary name first: a download that breaks off never leaves a file that looks like a backup.
  const partial = `${file}.partial`;
  try {
    await pipeline(Readable.fromWeb(response.body!), createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    process.stderr.write(`the backup broke off: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${file} (${(await stat(file)).size} bytes)\n`);
}

async function restore(file: string | undefined): Promise<void> {
  if (!file) usage('name the archive to restore');
  const { url, token } = apiSettings();
  try {
    await stat(file);
  } catch {
    usage(`cannot read ${file}`);
  }
  const response = await fetch(new URL('/v1/restore', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': mediaType },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (!response.ok) await failWith(response);
  const report = (await response.json()) as { rows: Record<string, number> };
  const total = Object.values(report.rows).reduce((sum, n) => sum + n, 0);
  process.stdout.write(`restored ${total} rows: ${JSON.stringify(report.rows)}\n`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'backup') {
  const at = rest.indexOf('--out');
  if (at >= 0 && !rest[at + 1]) usage('--out needs a file name');
  await backup(at >= 0 ? rest[at + 1] : undefined);
} else if (command === 'restore') {
  await restore(rest[0]);
} else {
  usage(`unknown command ${command ?? '(none)'}`);
}
