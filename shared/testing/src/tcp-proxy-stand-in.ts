import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The tag of the image `buildTcpProxyStandInImage` builds. */
export const tcpProxyStandInImage = 'gatehouse-test/tcp-proxy-standin:1';

/**
 * Stands in for the Traefik image of the deployer's TCP proxies (no registry here): the entrypoint takes the same
 * flags the deployer passes, fails without an entry point address or an existing file-provider directory, and
 * serves that directory over HTTP on the entry point's port (loopback, host networking), so a test can see that
 * the arguments and the bind mounts reached the process and that the port is bound.
 */
const entrypoint = `#!/bin/sh
port=""; dir=""
for arg in "$@"; do
  case "$arg" in
    --entryPoints.*.address=:*) port="\${arg##*=:}"; port="\${port%/tcp}" ;;
    --providers.file.directory=*) dir="\${arg#*=}" ;;
  esac
done
[ -n "$port" ] && [ -d "$dir" ] || { echo "missing entry point or directory: $*" >&2; exit 2; }
exec httpd -f -p "127.0.0.1:$port" -h "$dir"
`;

/** Builds the stand-in FROM `baseImage` (the test bed's busybox image); idempotent. Returns its tag. */
export async function buildTcpProxyStandInImage(baseImage: string): Promise<string> {
  const context = mkdtempSync(join(tmpdir(), 'gh-tcp-standin-'));
  try {
    writeFileSync(join(context, 'entrypoint.sh'), entrypoint, { mode: 0o755 });
    writeFileSync(
      join(context, 'Dockerfile'),
      `FROM ${baseImage}\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT ["/bin/sh", "/entrypoint.sh"]\n`,
    );
    await run('docker', ['build', '--network', 'host', '-q', '-t', tcpProxyStandInImage, context], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return tcpProxyStandInImage;
}
