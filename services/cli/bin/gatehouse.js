#!/usr/bin/env node
// Launcher for `gatehouse` (npx gatehouse …). The CLI is TypeScript that Node 24 runs directly (type
// stripping); an older `node` first on PATH re-runs this file with the repository's pinned Node 24.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  const { runCli } = await import(pathToFileURL(join(here, '..', 'src', 'main.ts')).href);
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
  });
} else {
  const pinned = join(here, '..', '..', '..', 'node_modules', '.bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(
      `gatehouse: needs Node 24 (this is ${process.version}); run npm install in the repository\n`,
    );
    process.exit(2);
  }
  const result = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
