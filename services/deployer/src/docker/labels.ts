/**
 * Container names, labels and filters: the only place they are spelled. Deployer finds its
 * containers by these labels, so a restarted deployer (or another replica) recognises them.
 */
export const labelKeys = {
  managed: 'gatehouse.managed',
  /** Which Gatehouse installation owns the container, so stacks sharing one engine leave each other alone. */
  stack: 'gatehouse.stack',
  app: 'gatehouse.app',
  appId: 'gatehouse.app-id',
  revision: 'gatehouse.revision',
  /** `tcp-proxy` on a TCP proxy's Traefik; absent on app containers (they predate the label). */
  role: 'gatehouse.role',
  /** The public port a TCP proxy listens on. */
  tcpPort: 'gatehouse.tcp-port',
  /** Hash of what the TCP proxy was created from; another hash means "recreate it". */
  tcpSpec: 'gatehouse.tcp-spec',
} as const;

export const tcpProxyRole = 'tcp-proxy';

/** One per public port and stack: the port is unique in a stack, and the stack keeps test runs apart. */
export function tcpProxyContainerName(stack: string, publicPort: number): string {
  return `${stack}-tcp-proxy-${publicPort}`;
}

/** Docker `filters` for this stack's TCP proxies. */
export function tcpProxyFilter(stack: string): { label: string[] } {
  return { label: [...managedFilter(stack).label, `${labelKeys.role}=${tcpProxyRole}`] };
}

export function containerName(appName: string, revision: number): string {
  return `gatehouse-app-${appName}-r${revision}`;
}

export function containerLabels(
  stack: string,
  app: { id: string; name: string; revision: number },
): Record<string, string> {
  return {
    [labelKeys.managed]: 'true',
    [labelKeys.stack]: stack,
    [labelKeys.app]: app.name,
    [labelKeys.appId]: app.id,
    [labelKeys.revision]: String(app.revision),
  };
}

/** Docker `filters` for every container this stack manages, or one app's. */
export function managedFilter(stack: string, appId?: string): { label: string[] } {
  const label = [`${labelKeys.managed}=true`, `${labelKeys.stack}=${stack}`];
  if (appId) label.push(`${labelKeys.appId}=${appId}`);
  return { label };
}
