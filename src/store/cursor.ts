import { QProxyError } from '../core/errors.js';

/** Where a page ended: the (started_at, seq) of its last row. The next page starts strictly below. */
export interface PagePosition {
  startedAt: number;
  seq: number;
}

const SHAPE = /^(-?\d{1,16}):(\d{1,16})$/;

/**
 * Keyset cursor, opaque to callers (base64url of "started_at:seq"). Keyset instead of OFFSET so
 * that records arriving or being purged between two pages cause neither gaps nor duplicates.
 */
export function encodeCursor(pos: PagePosition): string {
  return Buffer.from(`${pos.startedAt}:${pos.seq}`).toString('base64url');
}

/** Throws QProxyError `QP_ERR_BAD_CURSOR` for anything {@link encodeCursor} did not produce. */
export function decodeCursor(cursor: string): PagePosition {
  const text = Buffer.from(cursor, 'base64url').toString('latin1');
  const m = SHAPE.exec(text);
  // Re-encoding must give the input back: base64url decoding alone skips stray characters.
  if (!m || encodeCursor({ startedAt: Number(m[1]), seq: Number(m[2]) }) !== cursor) {
    throw new QProxyError(
      'QP_ERR_BAD_CURSOR',
      `cursor ${JSON.stringify(cursor.slice(0, 80))} was not issued by this store; pass the "next" value of the previous page unchanged, or omit the cursor to start from the newest record`,
    );
  }
  return { startedAt: Number(m[1]), seq: Number(m[2]) };
}
