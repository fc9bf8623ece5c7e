/**
 * Frame-level faults of one connection: duplicated, reordered (adjacent frames swapped) and
 * malformed frames. A malformed frame is sent in addition to the real one, so a client that
 * ignores garbage loses nothing; duplicates and swaps never lose a frame either, only a swap whose
 * held frame meets a closing connection does. Decisions come from a seeded generator per
 * connection, so a faulty run replays exactly.
 */
import type { FaultState } from './faults.js';

export interface FrameSink {
  /** Sends one text frame as is. */
  send(text: string): void;
}

const GARBAGE_KINDS = 5;

/** A broken variant of `text`: truncated JSON, a field of the wrong type, non-JSON, or a wrong shape. */
export function garbageFrame(text: string, pick: number): string {
  switch (pick % GARBAGE_KINDS) {
    case 0:
      return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    case 1: {
      // A price as a JSON number instead of a decimal string.
      const broken = text.replace(/"o":"([0-9.]+)"/, '"o":$1');
      return broken === text ? text.replace(/"E":(\d+)/, '"E":"$1"') : broken;
    }
    case 2:
      return 'garbage\u0000{{not json';
    case 3:
      return '{"stream":42,"data":null}';
    default:
      return '[null,true,"x"]';
  }
}

export class FaultyFrameSender {
  private held: string | undefined;

  constructor(
    private readonly sink: FrameSink,
    private readonly faults: FaultState,
    private readonly random: () => number,
  ) {}

  sendData(text: string): void {
    const { malformedProbability, reorderProbability, duplicateProbability } = this.faults;
    if (malformedProbability > 0 && this.random() < malformedProbability) {
      this.sink.send(garbageFrame(text, Math.floor(this.random() * GARBAGE_KINDS)));
    }
    if (this.held !== undefined) {
      const held = this.held;
      this.held = undefined;
      this.sink.send(text);
      this.sink.send(held);
    } else if (reorderProbability > 0 && this.random() < reorderProbability) {
      this.held = text;
      return;
    } else {
      this.sink.send(text);
    }
    if (duplicateProbability > 0 && this.random() < duplicateProbability) this.sink.send(text);
  }

  /** Forgets a held frame (the connection is closing). */
  drop(): void {
    this.held = undefined;
  }
}
