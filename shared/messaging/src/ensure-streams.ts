import type { StreamDefinition } from '@gatehouse/events';
import { type JetStreamManager, StorageType } from '@nats-io/jetstream';

/** How long JetStream drops a republished event id as a duplicate. */
export const duplicateWindowMs = 2 * 60_000;
const nanosPerMs = 1_000_000;

/**
 * Creates or updates every stream; safe to run from every replica at every start.
 * Streams are file-backed and keep events for 7 days, far past any consumer's redelivery horizon.
 */
export async function ensureStreams(jsm: JetStreamManager, streams: StreamDefinition[]): Promise<void> {
  for (const stream of streams) {
    const config = {
      name: stream.name,
      subjects: stream.subjects,
      storage: StorageType.File,
      max_age: 7 * 24 * 3600 * 1000 * nanosPerMs,
      duplicate_window: duplicateWindowMs * nanosPerMs,
    };
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // "stream name already in use" when it exists with other settings: bring it up to date.
      if (!/already in use/i.test(String((error as Error).message))) throw error;
      await jsm.streams.update(stream.name, { subjects: config.subjects, max_age: config.max_age });
    }
  }
}
