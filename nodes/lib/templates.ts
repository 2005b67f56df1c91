/**
 * ThingsBoard key/topic patterns: `${name}` takes metadata.name, `$[a.b]` takes the value at a.b in the
 * message data. As in ThingsBoard, a placeholder that finds nothing is left in place; callers that must not
 * use such a result (a publish topic) look at `unresolved`.
 */
import { getPath, toMetadataValue } from './message';

const PATTERN = /\$\{([^}]*)\}|\$\[([^\]]*)\]/g;

export interface PatternResult {
  text: string;
  unresolved: string[];
}

export function fillPattern(pattern: string, metadata: Record<string, unknown>, data?: unknown): PatternResult {
  const unresolved: string[] = [];
  const text = pattern.replace(PATTERN, (whole, metaKey: string | undefined, dataPath: string | undefined) => {
    if (metaKey !== undefined) {
      const key = metaKey.trim();
      if (Object.hasOwn(metadata, key) && metadata[key] !== undefined && metadata[key] !== null) {
        return toMetadataValue(metadata[key]);
      }
    } else if (dataPath !== undefined) {
      const v = getPath(data, dataPath.trim());
      if (v !== undefined && v !== null) return toMetadataValue(v);
    }
    unresolved.push(whole);
    return whole;
  });
  return { text, unresolved };
}
