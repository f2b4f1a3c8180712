import { createApiClient } from './api-client.ts';
import { appsCommand } from './commands/apps.ts';
import { certsCommand } from './commands/certs.ts';
import { inspectCommand } from './commands/inspect.ts';
import { renewCommand } from './commands/renew.ts';
import { statusCommand } from './commands/status.ts';
import { loadCliConfig } from './config.ts';
import type { CommandContext } from './context.ts';
import { CliError, exitCodes } from './exit-codes.ts';

const help = `gatehouse: certificates and apps of a Gatehouse installation

usage: gatehouse <command> [arguments] [--json]

  status [name|id]                          overview, or certificate → renewal → attempts for an id, app or host
  certs ls [--status s] [--app a] [--name host] [--search text] [--sort expiry|created] [--limit n]
  inspect <id>                              the issued chain: SANs, issuer, key, days left
  renew <id> | --all | --expiring-within 7d request a renewal now
  apps ls | show <name> | create <name> … | rm <name>
                                            list, show (domains, TCP ports, container), deploy, delete apps

environment: GATEHOUSE_URL (default http://127.0.0.1:8080), GATEHOUSE_API_TOKEN
exit codes: 0 ok, 1 refused or partly failed, 2 usage, 3 token refused, 4 not found, 5 rate limited,
            6 api unreachable or failing`;

/** Runs one command line; returns the exit code. Output goes to the given streams. */
export async function runCli(
  argv: readonly string[],
  io: { stdout: (text: string) => void; stderr: (text: string) => void; env: NodeJS.ProcessEnv },
): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((arg) => arg !== '--json');
  const [command, ...rest] = args;
  if (command === undefined || command === 'help' || args.includes('--help') || args.includes('-h')) {
    io.stdout(help);
    return command === undefined ? exitCodes.usage : exitCodes.ok;
  }
  try {
    const context: CommandContext = {
      client: createApiClient(loadCliConfig(io.env)),
      json,
      print: io.stdout,
      note: io.stderr,
    };
    switch (command) {
      case 'status':
        return await statusCommand(context, rest);
      case 'certs':
        return await certsCommand(context, rest);
      case 'inspect':
        return await inspectCommand(context, rest);
      case 'renew':
        return await renewCommand(context, rest);
      case 'apps':
        return await appsCommand(context, rest);
      default:
        throw new CliError(`unknown command ${command}; gatehouse --help lists them`, exitCodes.usage);
    }
  } catch (error) {
    const cliError =
      error instanceof CliError
        ? error
        : (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? new CliError((error as Error).message, exitCodes.usage)
          : new CliError((error as Error).message ?? String(error), exitCodes.failed);
    if (json)
      io.stdout(
        JSON.stringify(
          {
            error: {
              message: cliError.message,
              exitCode: cliError.exitCode,
              details: cliError.details ?? null,
            },
          },
          null,
          2,
        ),
      );
    else io.stderr(`gatehouse: ${cliError.message}`);
    return cliError.exitCode;
  }
}
