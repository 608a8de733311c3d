import { bytes } from './format.js';
import { diffBodies } from './text-diff.js';
import type { CompareOutcome } from './types.js';

/**
 * Compares the server's byte stream of a replayed TCP session with the recorded one: byte for byte
 * ("exact") or by length ("length"). A recording that kept only a prefix is compared as a prefix.
 */
export function compareTcp(recorded: Buffer, replayed: Buffer, mode: 'exact' | 'length', truncated: boolean): CompareOutcome {
  const notes = truncated ? [`recorded session was truncated: compared the first ${bytes(recorded.length)} only`] : [];
  const out = (line: string | null, kind: string): CompareOutcome => ({
    match: line === null,
    truncated,
    differences: line === null ? [] : [{ kind, line }],
    more: 0,
    notes,
  });
  if (mode === 'length') {
    const ok = truncated ? replayed.length >= recorded.length : replayed.length === recorded.length;
    return out(ok ? null : `server bytes: ${bytes(recorded.length)} → ${bytes(replayed.length)}`, 'stream length');
  }
  const d = diffBodies(recorded, replayed, [], truncated);
  if (d === null && !truncated && replayed.length !== recorded.length) {
    return out(`server bytes: ${bytes(recorded.length)} → ${bytes(replayed.length)}`, 'stream');
  }
  return out(d === null ? null : d.line.replace(/^body/, 'server bytes'), 'stream');
}
