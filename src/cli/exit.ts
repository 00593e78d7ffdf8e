// Exit codes CI understands (DESIGN.md "Runner guarantees").
export const EXIT = { ok: 0, checkFailed: 1, invalidInput: 2, infra: 3 } as const;

/** Bad flags or input files: reported without a stack trace, exit 2. */
export class UsageError extends Error {}
