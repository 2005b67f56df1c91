/**
 * What the result of a script filter and of a script switch means, as ThingsBoard reads them (its "script"
 * filter and "switch" nodes), without the engine or Node-RED: a filter's script returns a boolean, True or False;
 * a switch's script returns the name of one relation or an array of names. Anything else is a ResultError
 * (kind "result") that names the type the script returned.
 */
import { typeOf } from './message';
import { ResultError } from './transform';

/** The output a filter's result sends the message to: true or false. */
export function filterOutcome(result: unknown): boolean {
  if (typeof result === 'boolean') return result;
  throw new ResultError(`wrong result type: the script must return a boolean (true or false), got ${typeOf(result)}`);
}

/**
 * A switch's relation names as its settings hold them, one per output in order. An entry that is not a string
 * keeps its place (the outputs after it keep theirs) and is never matched.
 */
export function relationNames(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v : '')) : [];
}

/**
 * The relation names a switch's result gives, each once, in the order the script gave them (ThingsBoard keeps a
 * set). An empty array is allowed: the message then goes to no output, as ThingsBoard acknowledges it.
 */
export function switchRelations(result: unknown): string[] {
  if (typeof result === 'string') return [result];
  if (!Array.isArray(result)) {
    throw new ResultError(
      `wrong result type: the script must return a relation name or an array of them, got ${typeOf(result)}`,
    );
  }
  const names: string[] = [];
  result.forEach((v, i) => {
    if (typeof v !== 'string') {
      throw new ResultError(`wrong result type at index ${i}: a relation name must be a string, got ${typeOf(v)}`);
    }
    if (!names.includes(v)) names.push(v);
  });
  return names;
}

/**
 * The outputs (indices into `relations`) of the names a switch's result gives: all of them or none, so that a
 * name that no output has fails the message as a whole (ThingsBoard would drop the message on that relation
 * without a word).
 */
export function switchPorts(result: unknown, relations: readonly string[]): number[] {
  const names = switchRelations(result);
  const unknown = names.filter((n) => n === '' || !relations.includes(n));
  if (unknown.length > 0) {
    const list = unknown.map(quoted).join(', ');
    const known = relations.filter((r) => r !== '').map(quoted);
    throw new ResultError(
      `no output for relation ${list}: the relations are ${known.length > 0 ? known.join(', ') : '(none)'}`,
    );
  }
  return names.map((n) => relations.indexOf(n));
}

/** A name as the error shows it: quoted, and cut short, since the script may have taken it from what a device sent. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);
}
