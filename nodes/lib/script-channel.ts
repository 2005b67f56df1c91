/**
 * The shared memory between Node-RED's event loop and the script thread (script-thread.ts, script-worker.ts):
 * one request at a time, written by the main thread, answered in place by the thread. Waiting on it is
 * Atomics.wait, so the main thread can wait with a deadline and end the thread when it passes.
 */

/** Int32 slots of the control block. */
export const REQUEST = 0; // sequence number of the last request (main thread writes, thread waits on it)
export const REPLY = 1; // sequence number of the last answered request (thread writes, main thread waits on it)
export const OP = 2;
export const ID = 3;
export const LENGTH = 4; // bytes of text in the data block, both ways
export const STATUS = 5;
export const STATE = 6; // see STATE_*
const CONTROL_SLOTS = 8;

export const OP_CALL = 1;
export const OP_COMPILE = 2;
export const OP_DISPOSE = 3;

/** The text is the call's outcome (script-runtime's `u` / `v` + JSON). */
export const STATUS_OK = 0;
/** The text is the JSON of [kind, message, lineNumber] of the ScriptError the thread hit. */
export const STATUS_ERROR = 1;

export const STATE_BOOTING = 0;
export const STATE_READY = 1;
/** The thread's loop ended on an unexpected error: it answers nothing more. */
export const STATE_FAILED = 2;

/** Room for a request or an answer: far above the default limits' 300,000 characters of result JSON. */
export const DATA_BYTES = 16 * 1024 * 1024;

export type Described = [kind: string, message: string, lineNumber: number | null];

export interface ChannelBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function newChannelBuffers(): ChannelBuffers {
  return {
    control: new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT),
    data: new SharedArrayBuffer(DATA_BYTES),
  };
}

export class Channel {
  readonly control: Int32Array;
  private readonly data: Buffer;

  constructor(buffers: ChannelBuffers) {
    this.control = new Int32Array(buffers.control);
    this.data = Buffer.from(buffers.data);
  }

  /** Writes text to the data block and returns its length in bytes, or -1 when it does not fit. */
  write(text: string): number {
    // Three bytes per UTF-16 unit at most: only a long text needs measuring first.
    if (text.length * 3 > DATA_BYTES && Buffer.byteLength(text) > DATA_BYTES) return -1;
    return this.data.write(text, 0, 'utf8');
  }

  read(length: number): string {
    return this.data.toString('utf8', 0, length);
  }
}
