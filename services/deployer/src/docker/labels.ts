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
} as const;

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
