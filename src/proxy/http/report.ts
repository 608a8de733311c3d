import { errorMessage } from '../../errors.js';
import type { ExchangeEvent, RejectReason } from '../observer.js';
import type { ProxyContext } from './context.js';
import { buildHttpDraft, type DraftInput } from './draft.js';

/**
 * The end of every exchange, plain or upgraded: count it (as rejected or with its outcome) and,
 * when the recorder admitted it at its head (`recording`), hand the draft to the recorder. A
 * recorder failure never reaches traffic. `draft` is called only for an admitted exchange, so
 * nothing is built for nothing.
 */
export function reportExchange(ctx: ProxyContext, recording: boolean, rejected: RejectReason | null, event: ExchangeEvent, draft: () => DraftInput): void {
  if (rejected !== null) ctx.observer.rejected(rejected);
  else ctx.observer.exchange(event);
  if (!recording) return;
  try {
    ctx.recorder.commit(buildHttpDraft(draft()));
  } catch (err) {
    ctx.logger.warn({ err: errorMessage(err) }, 'recorder threw; record dropped');
  }
}
