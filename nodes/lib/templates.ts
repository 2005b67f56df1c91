/**
 * ThingsBoard key/topic patterns: `${name}` takes metadata.name, `$[a.b]` takes the value at a.b in the
 * message data, `${*}` all the metadata and `$[*]` all the data, each as JSON. As in ThingsBoard, a placeholder
 * that finds nothing is left in place; callers that must not use such a result (a publish topic) look at
 * `unresolved`.
 */
import { getPath, toMetadataValue } from './message';

const PATTERN = /\$\{([^}]*)\}|\$\[([^\]]*)\]/g;

/**
 * What `$[path]` does when the path leads to an object or an array: 'json' writes it as JSON (this package's
 * behaviour before the option existed); 'keep' leaves the placeholder in place, as ThingsBoard does (it
 * substitutes only a number, a string or a boolean).
 */
export type PatternObjects = 'json' | 'keep';

export function patternObjectsOf(v: unknown): PatternObjects {
  return v === 'keep' ? 'keep' : 'json';
}

export interface PatternResult {
  text: string;
  unresolved: string[];
}

export interface PatternOptions {
  objects?: PatternObjects;
  /** How a number found by `$[path]` is written (default: as JavaScript writes it). */
  formatValue?: (v: unknown) => string;
}

export function fillPattern(
  pattern: string,
  metadata: Record<string, unknown>,
  data?: unknown,
  opts: PatternOptions = {},
): PatternResult {
  const unresolved: string[] = [];
  const format = opts.formatValue ?? toMetadataValue;
  const text = pattern.replace(PATTERN, (whole, metaKey: string | undefined, dataPath: string | undefined) => {
    if (metaKey !== undefined) {
      const key = metaKey.trim();
      // ThingsBoard writes all the metadata for `${*}`, `{}` when there is none.
      if (key === '*') return JSON.stringify(metadata);
      if (Object.hasOwn(metadata, key) && metadata[key] !== undefined && metadata[key] !== null) {
        return toMetadataValue(metadata[key]);
      }
    } else if (dataPath !== undefined) {
      const path = dataPath.trim();
      if (path === '*') {
        if (data !== undefined) return JSON.stringify(data);
      } else {
        const v = getPath(data, path);
        const isObject = v !== null && typeof v === 'object';
        if (v !== undefined && v !== null && !(isObject && opts.objects === 'keep')) return format(v);
      }
    }
    unresolved.push(whole);
    return whole;
  });
  return { text, unresolved };
}
