/**
 * What the importer reads and writes: Node-RED flow nodes, the report of what did not map, and the error every
 * bad input raises. Reading a ThingsBoard field goes through `Fields`, so a wrong type names the file and field.
 */
import { createHash } from 'node:crypto';

/** One node of a Node-RED flow file. */
export type FlowNode = Record<string, unknown> & { id: string; type: string };

/** An export as the user gave it: the file name (for messages) and its text. */
export interface ImportSource {
  name: string;
  text: string;
}

/** Everything the import did not carry over, and what it assumed. */
export interface ImportReport {
  /** One line per ThingsBoard node, connection or widget that has no equivalent here. */
  notMapped: string[];
  /** Settings the import chose for the user, or that behave differently here. */
  notes: string[];
}

/** A bad input: the import stops and writes nothing. */
export class ImportError extends Error {
  override name = 'ImportError';
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON of an export, or an ImportError naming the file. */
export function parseJson(source: ImportSource): unknown {
  try {
    return JSON.parse(source.text);
  } catch (err) {
    throw new ImportError(`${source.name}: not JSON (${(err as Error).message})`);
  }
}

/**
 * Typed reads of a ThingsBoard object. A missing (or null) field gives the default ThingsBoard itself uses
 * for it; a field of the wrong type is an ImportError naming `where` and the field.
 */
export class Fields {
  constructor(
    private readonly obj: Json,
    readonly where: string,
  ) {}

  private get(key: string): unknown {
    const v = this.obj[key];
    return v === null ? undefined : v;
  }

  fail(key: string, expected: string): never {
    throw new ImportError(`${this.where}.${key}: expected ${expected}, got ${JSON.stringify(this.obj[key])}`);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return dflt;
    return typeof v === 'boolean' ? v : this.fail(key, 'true or false');
  }

  str(key: string, dflt: string): string {
    const v = this.get(key);
    if (v === undefined) return dflt;
    return typeof v === 'string' ? v : this.fail(key, 'a string');
  }

  num(key: string, dflt: number): number {
    const v = this.get(key);
    if (v === undefined) return dflt;
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, 'a number');
  }

  strList(key: string): string[] {
    const v = this.get(key);
    if (v === undefined) return [];
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? [...v] : this.fail(key, 'a list of strings');
  }

  /** A list of anything (missing gives an empty one); `what` says what its items are, for the message. */
  list(key: string, what: string): unknown[] {
    const v = this.get(key);
    if (v === undefined) return [];
    return Array.isArray(v) ? v : this.fail(key, `a list of ${what}`);
  }

  /** One of `allowed` (compared as given); missing gives `dflt`. */
  oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T): T {
    const v = this.str(key, dflt);
    return (allowed as readonly string[]).includes(v) ? (v as T) : this.fail(key, `one of ${allowed.join(', ')}`);
  }

  child(key: string): Fields {
    const v = this.get(key);
    if (v === undefined) return new Fields({}, `${this.where}.${key}`);
    return isObject(v) ? new Fields(v, `${this.where}.${key}`) : this.fail(key, 'an object');
  }

  raw(key: string): unknown {
    return this.get(key);
  }
}

/**
 * Node ids from the rule chain's text: the same export always gives the same flow (importing it again offers
 * to replace it), and two different chains imported into one Node-RED do not share ids.
 */
export class Ids {
  private n = 0;
  private readonly prefix: string;
  constructor(seed: string) {
    this.prefix = createHash('sha256').update(seed).digest('hex').slice(0, 8);
  }
  next(): string {
    this.n += 1;
    return `${this.prefix}${this.n.toString(16).padStart(8, '0')}`;
  }
}

/** A core debug node's settings that show the whole message in the Debug sidebar. */
export const DEBUG_WHOLE_MESSAGE = {
  type: 'debug',
  active: true,
  tosidebar: true,
  console: false,
  tostatus: false,
  complete: 'true',
  targetType: 'full',
  statusVal: '',
  statusType: 'auto',
} as const;

/** Node-RED's editor grid: positions are multiples of 20. */
export const snap = (v: number) => Math.round(v / 20) * 20;
