/**
 * The shape of the side-by-side view (side-by-side.ts), in a file of its own with no imports: the
 * web UI's browser code reads these types too.
 */

/**
 * `same` / `differs` as the comparison decided; `ignored`: left out by the rules (ignore lists,
 * header selection, hop-by-hop fields); `redacted`: the recorded value was redacted at record time,
 * so it matches anything.
 */
export type FieldState = 'same' | 'differs' | 'ignored' | 'redacted';

export interface FieldRow {
  /** Header name (lower case) or JSON path ("$.items[0].price"). */
  name: string;
  /** The value as text (JSON for JSON fields), null when absent on that side. */
  recorded: string | null;
  replayed: string | null;
  state: FieldState;
}

export interface SideBySide {
  status: { recorded: number; replayed: number; compared: boolean; differs: boolean };
  headers: FieldRow[];
  /**
   * `json`: both bodies parsed, one row per leaf value; `other`: compare the bodies as they are
   * (the UI shows both); `not_compared`: compare.body is off.
   */
  body: { kind: 'json'; fields: FieldRow[]; more: number } | { kind: 'other'; differs: boolean } | { kind: 'not_compared' };
  /** Why the view may not tell everything (a body cut short, a coding not decoded). */
  notes: string[];
}
