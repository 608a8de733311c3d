/**
 * Header fields that belong to one hop, not to the message: hop-by-hop fields (RFC 9110 §7.6.1)
 * and the framing fields that every sender computes for itself. Replay, serving and comparison all
 * leave them out; lower-case names.
 */
export const HOP_AND_FRAMING_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);
