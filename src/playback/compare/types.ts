import type { CapturedBody, HeaderLine } from '../../recording/model.js';

/** One side of a comparison: a recorded or a replayed response. */
export interface ResponseSide {
  status: number;
  headers: readonly HeaderLine[];
  /** `truncated`: the bytes kept are a prefix (capture limit at record time, or compare.max_body). */
  body: CapturedBody;
}

/** Comparison rules as configured (`playback.compare`, or a replay request's override); replay documents show them. */
export type { CompareOptions } from '../../core/documents.js';

/** One difference found, already phrased for people. */
export interface Difference {
  /**
   * What differs, in a form that aggregates well across records: "status", "header content-type",
   * "json $.items[*].price", "body" (array indices are folded into [*]).
   */
  kind: string;
  /** One line, values shortened: `$.price: 10 → 12`. */
  line: string;
}

/** What comparing one exchange gave. */
export interface CompareOutcome {
  match: boolean;
  /** A body was compared by prefix or left out because it was truncated (stated in `notes`). */
  truncated: boolean;
  differences: Difference[];
  /** Differences beyond those listed (the list is capped). */
  more: number;
  /** Remarks that are not differences: "recorded body truncated at 1048576 bytes: compared as a prefix". */
  notes: string[];
}
