/** Settings as the editor stores them: numbers arrive as text, or empty when left blank. */

/** A numeric setting from the editor, or the default when empty or not a number. */
export function numberSetting(v: unknown, dflt: number, min = 0): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n >= min ? n : dflt;
}
