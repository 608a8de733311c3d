/**
 * Values redacted at record time (`REDACTED:hmac-sha256:<16 hex>`, see recording/redaction-digest.ts)
 * cannot be compared with what zone B answers: the recording no longer holds the secret. They act
 * as wildcards, so redaction never shows up as a difference.
 */
import { REDACTION_PREFIX } from '../../recording/redaction-digest.js';

const MARKER_SOURCE = `${REDACTION_PREFIX}[0-9a-f]{16}`;
const WHOLE = new RegExp(`^${MARKER_SOURCE}$`);
const SPECIAL = /[.*+?^${}()|[\]\\]/g;

/** True when `value` is exactly one redaction marker. */
export function isMarker(value: unknown): boolean {
  return typeof value === 'string' && value.length === REDACTION_PREFIX.length + 16 && WHOLE.test(value);
}

/** True when `text` holds a redaction marker somewhere. */
export function hasMarker(text: string): boolean {
  return text.includes(REDACTION_PREFIX);
}

/**
 * A matcher for a recorded text that contains markers: the text around them must be equal, each
 * marker stands for any run of characters ("Bearer REDACTED:…" matches "Bearer abc").
 */
export function markerPattern(recorded: string): RegExp {
  const parts = recorded.split(new RegExp(MARKER_SOURCE));
  return new RegExp(`^${parts.map((p) => p.replace(SPECIAL, '\\$&')).join('[\\s\\S]*?')}$`);
}

/** Equality where markers in `recorded` are wildcards. */
export function equalsWithMarkers(recorded: string, replayed: string): boolean {
  if (recorded === replayed) return true;
  if (!hasMarker(recorded)) return false;
  return markerPattern(recorded).test(replayed);
}
