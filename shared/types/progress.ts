/** A progress report from long work (stage, snapshot, restore, upgrade). */
export interface Progress {
  /** Step of the upgrade state machine or operation name: stage, snapshot, restore, migrate ... */
  step: string;
  message?: string;
  /** Bytes done and expected, when the work moves bytes. */
  bytes?: number;
  totalBytes?: number;
  /** 0..100 when known. */
  percent?: number;
}

export type ProgressListener = (progress: Progress) => void;

/** Common options of functions that wait: cancellation and progress. */
export interface WorkOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}
