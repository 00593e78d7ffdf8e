// The load-driver contract the runner programs against: the built-in open-model generator
// (builtin.ts) and an external driver such as k6 implement the same interface.
import type { Histogram, LatencySummary } from '../stats/hdr.ts';
import type { FirstChange, TransformSpec } from './drift-transform.ts';
import type { PayloadTransform } from './portable.ts';

export type Outcome = 'ok' | 'error' | 'dropped' | 'timeout';

/** One intended request. Times are epoch milliseconds (float; Date.now()-aligned at run start, monotonic within the run: clock.ts). */
export interface RequestRecord {
  /** 0-based position in the arrival schedule (also the payload's position in the seeded sequence). */
  seq: number;
  /** When the open-model schedule wanted the request sent. Windows select records by this time. */
  tIntended: number;
  /** When it was actually handed to the HTTP client; null if dropped. */
  tSent: number | null;
  /** When the response (or error/timeout) arrived; for a drop, when the drop was decided. */
  tDone: number;
  /** tDone − tIntended (no coordinated omission); null if dropped (no response exists). */
  latencyMs: number | null;
  /** HTTP status, or 0 for network error, timeout and drop. */
  status: number;
  /** ok = 2xx with a well-formed body; error = anything else answered or a network error. */
  outcome: Outcome;
  modelVersion?: string;
  /** Fallback reason when the answer came from the fallback model. */
  fallback?: string;
  /** Upstream replica that served it (gateway `x-upstream`). */
  upstream?: string;
  /** Short error description for non-ok outcomes. */
  error?: string;
  /** Ground truth of the payload as generated (1 = fraud); drift transforms do not change it. Absent for payloads without a known label. */
  label?: 0 | 1;
  /** The answer's fraud score (body `score`, 0..1); only on ok answers that carry one. */
  score?: number;
  /** The answer's decision (body `decision`: approve | review | decline); review and decline flag fraud. */
  decision?: string;
}

/** Milliseconds; the same shape the SLO library reports for a window. */
export type LatencySummaryMs = LatencySummary;

export interface LoadResult {
  startedAt: number;
  endedAt: number;
  /** Requests the schedule intended (sent + dropped). */
  requests: number;
  ok: number;
  errors: number;
  timeouts: number;
  dropped: number;
  /** Latency from intended send time over every answered/timed-out request (drops excluded). */
  latency: LatencySummaryMs;
  /** tSent − tIntended: how late the generator itself was; large values mean the generator saturated. */
  schedulingLag: LatencySummaryMs;
  /** Whole-run histograms (µs) for journaling (e.g. encodeIntoCompressedBase64). */
  latencyHistogram: Histogram;
  schedulingLagHistogram: Histogram;
  /** Present only when the driver was asked to keep records in memory. */
  records?: RequestRecord[];
  /** True if stop() ended the run before the configured duration. */
  stoppedEarly: boolean;
}

/** Applied to every payload just before it is sent (the drift fault installs one at runtime). */
export type { PayloadTransform } from './portable.ts';

export type RecordListener = (record: RequestRecord) => void;

export interface LoadDriver {
  /** Begins generating load; resolves once the schedule is running. */
  start(): Promise<void>;
  /** Stops scheduling new requests and waits for the in-flight ones (bounded by the request timeout). */
  stop(): Promise<void>;
  /** Settles when the run is over (duration elapsed or stop()), after every record was emitted. */
  readonly done: Promise<LoadResult>;
  /** Subscribes to records as they complete (completion order, not seq order); returns an unsubscribe. */
  onRecord(cb: RecordListener): () => void;
  /** Drivers that build payloads in-process support runtime payload transforms (drift fault). */
  setTransform?(transform: PayloadTransform | undefined): void;
  /**
   * Installs (or with undefined removes) the serializable transform `id` (the drift fault's seam:
   * it works across a worker thread). Active transforms apply in installation order. A spec acts on
   * requests intended at or after its `startMs`, or after the instant the generator installed it if
   * that is later; resolves with that effective start (epoch ms, clock.ts), undefined on removal.
   */
  setTransformSpec?(id: string, spec: TransformSpec | undefined): Promise<number | undefined>;
  /**
   * The first payload transform `id` actually changed (drift's fault start); undefined if the run
   * ends before it changes one.
   */
  firstChange?(id: string): Promise<FirstChange | undefined>;
}
