/**
 * PostgreSQL protocol 3.0 message names by type byte (PostgreSQL docs, "Message Formats").
 * The start-up phase's messages carry no type byte; they are named by their request code.
 */

export const FRONTEND: ReadonlyMap<number, string> = new Map(
  Object.entries({
    B: 'Bind',
    C: 'Close',
    d: 'CopyData',
    c: 'CopyDone',
    f: 'CopyFail',
    D: 'Describe',
    E: 'Execute',
    H: 'Flush',
    F: 'FunctionCall',
    P: 'Parse',
    p: 'PasswordMessage',
    Q: 'Query',
    S: 'Sync',
    X: 'Terminate',
  }).map(([k, v]) => [k.charCodeAt(0), v]),
);

export const BACKEND: ReadonlyMap<number, string> = new Map(
  Object.entries({
    R: 'Authentication',
    K: 'BackendKeyData',
    '2': 'BindComplete',
    '3': 'CloseComplete',
    C: 'CommandComplete',
    d: 'CopyData',
    c: 'CopyDone',
    G: 'CopyInResponse',
    H: 'CopyOutResponse',
    W: 'CopyBothResponse',
    D: 'DataRow',
    I: 'EmptyQueryResponse',
    E: 'ErrorResponse',
    V: 'FunctionCallResponse',
    v: 'NegotiateProtocolVersion',
    n: 'NoData',
    N: 'NoticeResponse',
    A: 'NotificationResponse',
    t: 'ParameterDescription',
    S: 'ParameterStatus',
    '1': 'ParseComplete',
    s: 'PortalSuspended',
    Z: 'ReadyForQuery',
    T: 'RowDescription',
  }).map(([k, v]) => [k.charCodeAt(0), v]),
);

/** Request codes of the untyped start-up packets. */
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;

/** Longest start-up packet the server accepts (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10_000;
/** Longest message the server accepts or sends (MaxAllocSize, 1 GiB - 1). */
export const MAX_MESSAGE_LENGTH = 0x3fffffff;

/** Server messages after which the client speaks next: the end of an answer. */
export const ANSWER_ENDS: ReadonlySet<string> = new Set(['ReadyForQuery', 'CopyInResponse', 'CopyBothResponse']);
