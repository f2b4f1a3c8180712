import { parseArgs } from 'node:util';
import { type CommandContext, output } from '../context.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { parseTcpPortOption, table, tcpPortLabel } from '../format.ts';
import { collectPages } from '../pages.ts';
import { type AppView, appPageSchema, appSchema, parseAnswer } from '../views.ts';

const usage = `usage: gatehouse apps ls
       gatehouse apps show <name>
       gatehouse apps create <name> --image <ref> --port <n> --domain <https://host> [--domain …]
                             [--www none|redirect-to-apex|redirect-to-www|both] [--challenge auto|http-01|dns-01]
                             [--mode acme|custom|fallback-only|local-ca]
                             [--profile <ACME profile, e.g. shortlived>] [--env KEY=VALUE …]
                             [--tcp <public port>[:<target port>][/tls] …]
       gatehouse apps rm <name>`;

/** `gatehouse apps ls | show | create | rm`. */
export async function appsCommand(context: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'ls':
    case 'list': {
      const apps = await collectPages<AppView>(context.client, '/v1/apps', {}, appPageSchema, 'apps');
      output(context, { apps }, () =>
        apps.length === 0
          ? 'no apps'
          : table(
              ['NAME', 'IMAGE', 'DOMAINS', 'TCP', 'CONTAINER', 'CERTIFICATES'],
              apps.map((app) => [
                app.name,
                app.image,
                app.domains.map((domain) => domain.url).join(',') || '-',
                (app.tcp ?? [])
                  .map(
                    (port) => `${tcpPortLabel(port, app.port)}${port.status === 'failed' ? '(failed)' : ''}`,
                  )
                  .join(',') || '-',
                app.container?.state ?? '-',
                app.certificates
                  .map((certificate) => `${certificate.id.slice(0, 8)}:${certificate.status}`)
                  .join(',') || '-',
              ]),
            ),
      );
      return exitCodes.ok;
    }
    case 'show': {
      const [name] = rest;
      if (name === undefined || rest.length > 1) throw new CliError(usage, exitCodes.usage);
      const { body } = await context.client.request('GET', `/v1/apps/${encodeURIComponent(name)}`);
      const app = parseAnswer(appSchema, body, 'the app');
      output(context, { app }, () =>
        [
          ...describeApp(app),
          ...app.certificates.map(
            (certificate) => `  Certificate: ${certificate.id} (${certificate.status})`,
          ),
          `certificate details: gatehouse status ${app.name}`,
        ].join('\n'),
      );
      return exitCodes.ok;
    }
    case 'create': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: {
          image: { type: 'string' },
          port: { type: 'string' },
          domain: { type: 'string', multiple: true },
          www: { type: 'string' },
          challenge: { type: 'string' },
          // The certificate mode of every --domain; without it the api picks by name (local-ca for internal names).
          mode: { type: 'string' },
          profile: { type: 'string' },
          env: { type: 'string', multiple: true },
          tcp: { type: 'string', multiple: true },
        },
        strict: true,
        allowPositionals: true,
      });
      const [name] = positionals;
      if (name === undefined || positionals.length > 1 || !values.image || !values.port)
        throw new CliError(usage, exitCodes.usage);
      const env: Record<string, string> = {};
      for (const pair of values.env ?? []) {
        const equals = pair.indexOf('=');
        if (equals < 1) throw new CliError(`--env ${pair}: give KEY=VALUE`, exitCodes.usage);
        env[pair.slice(0, equals)] = pair.slice(equals + 1);
      }
      const tcp = (values.tcp ?? []).map((text) => {
        const port = parseTcpPortOption(text);
        if (!port)
          throw new CliError(
            `--tcp ${text}: give PUBLIC[:TARGET][/tls], e.g. 5433:5432/tls`,
            exitCodes.usage,
          );
        return port;
      });
      // A profile chooses the kind of certificate, so it goes only with https:// domains (the api refuses it on http://).
      const domains = (values.domain ?? []).map((url) => {
        const profile = values.profile && /^https:/i.test(url) ? { profile: values.profile } : {};
        return values.challenge || values.mode || 'profile' in profile
          ? {
              url,
              ...(values.challenge ? { challenge: values.challenge } : {}),
              ...(values.mode ? { mode: values.mode } : {}),
              ...profile,
            }
          : url;
      });
      // The api validates every field and says what is wrong; the CLI only shapes the request.
      const { body } = await context.client.request('POST', '/v1/apps', {
        name,
        image: values.image,
        port: Number(values.port),
        domains,
        ...(values.www ? { www: values.www } : {}),
        ...(Object.keys(env).length > 0 ? { env } : {}),
        ...(tcp.length > 0 ? { tcp } : {}),
      });
      const app = parseAnswer(appSchema, body, 'the new app');
      output(context, { app }, () =>
        [
          `created app ${app.name}`,
          ...app.certificates.map((certificate) => `  certificate ${certificate.id}: ${certificate.status}`),
          `follow it with: gatehouse status ${app.name}`,
        ].join('\n'),
      );
      return exitCodes.ok;
    }
    case 'rm':
    case 'delete': {
      const [name] = rest;
      if (name === undefined || rest.length > 1) throw new CliError(usage, exitCodes.usage);
      const { body } = await context.client.request('DELETE', `/v1/apps/${encodeURIComponent(name)}`);
      output(
        context,
        body,
        () =>
          `deleted app ${name}; its container and routes go away shortly. Its certificates are kept, not renewed, ` +
          'for an app with the same names',
      );
      return exitCodes.ok;
    }
    default:
      throw new CliError(usage, exitCodes.usage);
  }
}

/** The app's own lines (image, domains, TCP ports, container), as `apps show` and `status <app>` print them. */
export function describeApp(app: AppView): string[] {
  const tcp = app.tcp ?? [];
  return [
    `App ${app.name}`,
    `  Image:      ${app.image} (port ${app.port})`,
    `  Domains:    ${app.domains.map((domain) => `${domain.url} [${[domain.challenge, domain.mode].filter(Boolean).join(', ')}]`).join(', ') || '-'}`,
    `  TCP ports:  ${tcp.length === 0 ? '-' : tcp.map((port) => `${tcpPortLabel(port, app.port)}${port.status ? ` ${port.status}` : ''}`).join(', ')}`,
    // A failing proxy says why (another process holding the port on the host, …), one line each.
    ...tcp.flatMap((port) => (port.error ? [`    ${port.publicPort}: ${port.error.message}`] : [])),
    `  Container:  ${app.container?.state ?? 'not deployed yet'}`,
  ];
}
