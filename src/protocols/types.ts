/**
 * @module What the protocol readers produce: messages located in a session's two byte streams,
 * and where (and why) the bytes stopped being readable as messages. The recorded bytes stay the
 * truth; these are views derived from them on demand (API, replay, comparison).
 */
import type { AppProtocol, TcpDirection } from '../recording/model.js';
import type { Conversation } from './conversation.js';

/** One protocol message, located in its direction's byte stream. */
export interface WireMessage {
  dir: TcpDirection;
  /** Offset of its first byte in its direction's stream (0 = the session's first byte that way). */
  offset: number;
  /** The whole message, header included (a view of the recorded bytes, not a copy). */
  data: Buffer;
  /** Offset from the session start (µs) of the read that completed it. */
  t_us: number;
  /** The protocol's name for it: "Query", "DataRow", "COM_QUERY", "OK", "command", "reply". */
  type: string;
  /** Part of the connection's opening (start-up, authentication): replay runs its own instead. */
  handshake: boolean;
  /**
   * A server message that completes an answer (PostgreSQL ReadyForQuery or CopyInResponse, a
   * Redis reply, the last packet of a MySQL response). Replay waits for as many of these as the
   * recording had before sending the next request.
   */
  end: boolean;
}

/**
 * Where one direction stopped being read as messages. The bytes from `offset` on are kept and
 * shown as raw bytes; nothing is lost.
 * - `broken`: the bytes do not follow the protocol (garbage, another protocol).
 * - `tls`: the two sides switched to TLS inside the protocol (PostgreSQL SSLRequest, MySQL SSL).
 * - `unsupported`: a valid but unsupported mode (MySQL compression, COM_CHANGE_USER, replication).
 * - `incomplete`: the recording ends inside a message (closed mid-message, or the session cap).
 */
export interface FramingBreak {
  dir: TcpDirection;
  offset: number;
  t_us: number;
  kind: 'broken' | 'tls' | 'unsupported' | 'incomplete';
  reason: string;
}

/** Reads one session's two byte streams as messages, chunk by chunk, in the order they were seen. */
export interface SessionSplitter {
  /** Feeds one read of one direction; returns the messages it completed, in order. */
  push(dir: TcpDirection, data: Buffer, tUs: number): WireMessage[];
  /** The recording ended: a direction left inside a message gets an `incomplete` break. */
  finish(): void;
  /** The break of each direction, once there is one (no more messages come from that direction). */
  readonly breaks: Readonly<Record<TcpDirection, FramingBreak | null>>;
  /** True while the connection's opening (handshake) is not over. */
  readonly inHandshake: boolean;
}

/** What each protocol module offers the rest of QProxy. */
export interface ProtocolModule {
  readonly name: AppProtocol;
  splitter(): SessionSplitter;
  /**
   * One line for people: `Query "SELECT 1"`, `SET k v`, `COM_QUERY "SELECT 1"`, `DataRow [1]`.
   * `full`: statements and values are not shortened (for matching ignore rules).
   */
  describe(message: WireMessage, full?: boolean): string;
  /** A reader of server messages' comparable parts, for one side of one session. */
  fieldReader(): FieldReaderOf;
  /** The built-in ignore rules. */
  readonly defaults: DefaultIgnores;
  /** Replay's own opening on a new connection to zone B. Throws OpeningError. */
  open(ch: OpeningChannel, recorded: Conversation, creds: Credentials | null): Promise<void>;
  /** How the recorded requests are sent after the opening. */
  rewriter(recorded: Conversation, creds: Credentials | null): RequestRewriter;
}

/**
 * One comparable part of a server message. Bytes compare byte for byte; `{bytes, text}` compares
 * its bytes and shows its text (a MySQL binary value read with its column type).
 */
export type FieldValue = string | Buffer | null | { bytes: Buffer | null; text: string };

/** A server message as labelled parts: `["col 0", <bytes>]`, `["", "UPDATE 1"]`, `["code", "42P01"]`. */
export type MessageFields = Array<[label: string, value: FieldValue]>;

/** Reads the comparable parts of a session's server messages; fed every message in order, both ways. */
export interface FieldReaderOf {
  /** A client message (some protocols need it to read what answers it). */
  request(m: WireMessage): void;
  /** A server message's parts. Throws RangeError on a malformed message. */
  fields(m: WireMessage): MessageFields;
}

/** The protocol's built-in ignore rules for volatile parts (`playback.tcp.ignore.defaults`). */
export interface DefaultIgnores {
  /** Message names, or "Name:label" for one part. */
  messages: readonly string[];
  /** Regular expressions matched against a request's full text; their answers are not compared. */
  requests: readonly string[];
}

/** The replay's side of a new connection, as an opening sees it. */
export interface OpeningChannel {
  /** The server's next message, or null when it closed or `timeoutMs` passed. */
  next(): Promise<WireMessage | null>;
  write(data: Buffer): Promise<void>;
}

/** Zone B's credentials (`playback.tcp.auth`). */
export interface Credentials {
  user: string;
  password?: string;
  database?: string;
}

/** The opening failed: authentication refused, an unsupported method, or the server went away. */
export class OpeningError extends Error {
  constructor(
    readonly code: 'QP_ERR_REPLAY_AUTH' | 'QP_ERR_REPLAY_PROTOCOL',
    message: string,
  ) {
    super(message);
    this.name = 'OpeningError';
  }
}

/** How replay sends the recorded requests to zone B. */
export interface RequestRewriter {
  /** The bytes to send for a recorded client message. */
  request(m: WireMessage): Buffer;
  /** A server message of the replayed session, after the opening. */
  answer(m: WireMessage): void;
}
