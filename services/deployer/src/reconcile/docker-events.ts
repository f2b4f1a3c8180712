import { sleep } from '@gatehouse/messaging';
import type { Logger } from '@gatehouse/telemetry';
import type Docker from 'dockerode';
import { labelKeys, managedFilter } from '../docker/labels.ts';

/** Container events that can leave an app without its container. */
const watchedEvents = ['die', 'destroy', 'stop', 'kill'];

export interface DockerEventWatch {
  stop(): void;
}

/**
 * Follows Docker's event stream for managed containers and calls `onChange` for each watched
 * event. The stream is reopened after an error or end (the engine restarted), and `onChange` is
 * called then too, since events may have been missed.
 */
export function watchDockerEvents(
  docker: Docker,
  stack: string,
  logger: Logger,
  onChange: () => void,
  /** Called each time the event stream is (re)opened: events from then on are seen (tests wait for it). */
  onOpen?: () => void,
): DockerEventWatch {
  let stopped = false;
  let current: NodeJS.ReadableStream | undefined;

  async function open(): Promise<void> {
    while (!stopped) {
      try {
        const stream = await docker.getEvents({
          filters: { ...managedFilter(stack), type: ['container'], event: watchedEvents },
        });
        current = stream;
        onOpen?.();
        let buffered = '';
        await new Promise<void>((resolve) => {
          stream.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              const line = buffered.slice(0, newline);
              buffered = buffered.slice(newline + 1);
              newline = buffered.indexOf('\n');
              handleLine(line);
            }
          });
          stream.once('end', resolve);
          stream.once('close', resolve);
          stream.once('error', resolve);
        });
      } catch (error) {
        logger.warn({ err: error }, 'docker events unavailable');
      }
      if (stopped) return;
      onChange();
      await sleep(1_000);
    }
  }

  function handleLine(line: string): void {
    if (line.trim() === '') return;
    try {
      const event = JSON.parse(line) as {
        Action?: string;
        Actor?: { ID?: string; Attributes?: Record<string, string> };
      };
      const attributes = event.Actor?.Attributes ?? {};
      logger.info(
        {
          docker_event: event.Action,
          container_id: event.Actor?.ID,
          container: attributes.name,
          app_id: attributes[labelKeys.appId],
          revision: attributes[labelKeys.revision],
        },
        'managed container event',
      );
    } catch {
      // Not JSON: still a sign that something changed.
    }
    onChange();
  }

  void open();
  return {
    stop() {
      stopped = true;
      (current as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}
