/**
 * The shared memory between Node-RED's event loop and the script thread (script-thread.ts, script-worker.ts):
 * one request at a time, written by the main thread, answered in place by the thread. Waiting on it is
 * Atomics.wait, so the main thread can wait with a deadline and end the thread when it passes.
 */

import { type SpinPolicy, spin } from './spin-policy';

/** Int32 slots of the control block. */
const REQUEST = 0; // sequence number of the last request (main thread writes, thread waits on it)
const REPLY = 1; // sequence number of the last answered request (thread writes, main thread waits on it)
const OP = 2;
const ID = 3;
const LENGTH = 4; // bytes of text in the data block, both ways
const STATUS = 5;
const STATE = 6; // see STATE_*
const CONTROL_SLOTS = 8;
/** Float64 after the Int32 slots: when the main thread posted the last request (a Date.now() time). */
const POSTED_AT_BYTE = CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT;

export const OP_CALL = 1;
export const OP_COMPILE = 2;
export const OP_DISPOSE = 3;

/** The text is the call's outcome (script-runtime's `u` / `v` + JSON). */
export const STATUS_OK = 0;
/** The text is the JSON of [kind, message, lineNumber] of the ScriptError the thread hit. */
export const STATUS_ERROR = 1;

/** The thread serves requests (0 before). */
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

/**
 * A thread allocates its shared memory itself and posts it with this message once it serves requests: the
 * 16 MB took the event loop up to 80 ms to allocate while Node-RED was busy, measured in a burst of time-outs.
 */
export interface ReadyMessage {
  ready: ChannelBuffers;
}

export function isReadyMessage(m: unknown): m is ReadyMessage {
  const ready = (m as Partial<ReadyMessage> | null)?.ready;
  return ready?.control instanceof SharedArrayBuffer && ready.data instanceof SharedArrayBuffer;
}

export function newChannelBuffers(): ChannelBuffers {
  return {
    control: new SharedArrayBuffer(POSTED_AT_BYTE + Float64Array.BYTES_PER_ELEMENT),
    data: new SharedArrayBuffer(DATA_BYTES),
  };
}

export interface Answer {
  status: number;
  text: string;
}

export interface Request {
  op: number;
  id: number;
  text: string;
  /** When it was posted, as a Date.now() time (both threads share that clock). */
  postedAt: number;
}

/** Both sides of the protocol; each thread makes its own Channel over the same buffers. */
export class Channel {
  private readonly control: Int32Array;
  private readonly postedAt: Float64Array;
  private readonly data: Buffer;
  /** The number of the last request posted (main thread side). */
  private sequence = 0;

  constructor(readonly buffers: ChannelBuffers = newChannelBuffers()) {
    this.control = new Int32Array(buffers.control, 0, CONTROL_SLOTS);
    this.postedAt = new Float64Array(buffers.control, POSTED_AT_BYTE, 1);
    this.data = Buffer.from(buffers.data);
  }

  /** Writes text to the data block and returns its length in bytes, or -1 when it does not fit. */
  private write(text: string): number {
    // Three bytes per UTF-16 unit at most: only a long text needs measuring first.
    if (text.length * 3 > DATA_BYTES && Buffer.byteLength(text) > DATA_BYTES) return -1;
    return this.data.write(text, 0, 'utf8');
  }

  private read(length: number): string {
    return this.data.toString('utf8', 0, length);
  }

  get ready(): boolean {
    return Atomics.load(this.control, STATE) === STATE_READY;
  }

  // ------------------------------------------------------------------------------------- the main thread's side

  /** Posts a request and wakes the thread; returns its number, or -1 when its text does not fit. */
  post(op: number, id: number, text: string): number {
    const control = this.control;
    const length = this.write(text);
    if (length < 0) return -1;
    control[OP] = op;
    control[ID] = id;
    control[LENGTH] = length;
    this.postedAt[0] = Date.now();
    const request = ++this.sequence;
    Atomics.store(control, REQUEST, request);
    Atomics.notify(control, REQUEST);
    return request;
  }

  answered(request: number): boolean {
    return Atomics.load(this.control, REPLY) === request;
  }

  /** Sleeps until the answer to `request` may be there, at most `ms`. */
  sleepForAnswer(request: number, ms: number): void {
    Atomics.wait(this.control, REPLY, request - 1, ms);
  }

  answer(): Answer {
    return { status: this.control[STATUS] as number, text: this.read(this.control[LENGTH] as number) };
  }

  // ------------------------------------------------------------------------------------------ the thread's side

  /** The number of the last request posted. */
  get lastRequest(): number {
    return Atomics.load(this.control, REQUEST);
  }

  /** Waits until a request other than `seen` is posted, spinning first as `policy` allows; returns its number. */
  nextRequest(seen: number, policy?: SpinPolicy): number {
    if (policy && this.lastRequest === seen) spin(policy, () => this.lastRequest !== seen);
    let request = this.lastRequest;
    while (request === seen) {
      Atomics.wait(this.control, REQUEST, seen);
      request = this.lastRequest;
    }
    return request;
  }

  request(): Request {
    const control = this.control;
    return {
      op: control[OP] as number,
      id: control[ID] as number,
      text: this.read(control[LENGTH] as number),
      postedAt: this.postedAt[0] as number,
    };
  }

  reply(request: number, status: number, text: string): void {
    this.control[STATUS] = status;
    this.control[LENGTH] = this.write(text);
    Atomics.store(this.control, REPLY, request);
    Atomics.notify(this.control, REPLY);
  }

  /** Says the thread serves requests; returns the message that gives the main thread this channel. */
  announceReady(): ReadyMessage {
    this.setState(STATE_READY);
    return { ready: this.buffers };
  }

  setState(state: number): void {
    Atomics.store(this.control, STATE, state);
    Atomics.notify(this.control, STATE);
    // A main thread waiting for an answer wakes to see the state.
    Atomics.notify(this.control, REPLY);
  }
}
