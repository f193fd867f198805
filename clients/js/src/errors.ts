// ClientError: what every host control rejects with. Usher answers a host control with an
// RPC error (livekit-client's RpcError); the wrapper passes its code through unchanged, so
// `err.code === 1201` works as in RealtimeKit.

/** Usher's host-control error codes (docs/host-controls.md), and LiveKit's built-in RPC codes. */
export const ErrorCode = {
  /** The caller's preset lacks the host control the method needs (or the caller has no preset). */
  PERMISSION_DENIED: 1201,
  /** No participant with that identity in the caller's room. */
  PARTICIPANT_NOT_FOUND: 1202,
  /** The payload is not what the method takes. */
  INVALID_PAYLOAD: 1203,
  /** The action makes no sense on that target (kicking oneself, pinning a hidden participant). */
  INVALID_TARGET: 1204,
  /** The action was allowed but failed on the server. */
  FAILED: 1205,

  // LiveKit's built-in RPC codes (livekit-client's RpcError.ErrorCode).
  APPLICATION_ERROR: 1500,
  CONNECTION_TIMEOUT: 1501,
  RESPONSE_TIMEOUT: 1502,
  RECIPIENT_DISCONNECTED: 1503,
  RESPONSE_PAYLOAD_TOO_LARGE: 1504,
  SEND_FAILED: 1505,
  UNSUPPORTED_METHOD: 1400,
  RECIPIENT_NOT_FOUND: 1401,
  REQUEST_PAYLOAD_TOO_LARGE: 1402,
  UNSUPPORTED_SERVER: 1403,
  UNSUPPORTED_VERSION: 1404,

  // The wrapper's own, for failures that never got a server answer (not wire codes).
  /** Anything else (the error is the cause). */
  UNKNOWN: 0,
  /** The room is not connected. */
  NOT_CONNECTED: 1,
  /** A local action the SDK refused (for example, unmuting while a host holds a hard mute). */
  LOCAL_ACTION_FAILED: 2,
  /** The server's response was not the JSON the contract describes. */
  BAD_RESPONSE: 3,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

const names = new Map<number, ErrorCodeName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorCodeName]),
);

export class ClientError extends Error {
  /** The RPC error code (1201 for a missing host permission), or one of the wrapper's own. */
  readonly code: number;
  /** The host-control method that failed (disableAudio, kickAll, …). */
  readonly method?: string;
  /** The RPC error's data field, as the server sent it. */
  readonly data?: string;

  constructor(code: number, message: string, opts: { method?: string; data?: string; cause?: unknown } = {}) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.method = opts.method;
    this.data = opts.data;
    if (opts.cause !== undefined) (this as { cause?: unknown }).cause = opts.cause;
  }

  /** The code's name (PERMISSION_DENIED for 1201), when it is a known one. */
  get codeName(): ErrorCodeName | undefined {
    return names.get(this.code);
  }
}

/**
 * Turns what performRpc rejected with (livekit-client's RpcError, which has a numeric
 * code, or any other error) into a ClientError.
 */
export function toClientError(err: unknown, method: string): ClientError {
  if (err instanceof ClientError) return err;
  const e = err as { code?: unknown; message?: unknown; data?: unknown } | null;
  if (e && typeof e === 'object' && typeof e.code === 'number') {
    return new ClientError(e.code, String(e.message ?? `${method} failed`), {
      method,
      data: typeof e.data === 'string' ? e.data : undefined,
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ClientError(ErrorCode.UNKNOWN, `${method} failed: ${message}`, { method, cause: err });
}
