// errors.js — the one error class of unseal-wasm.
//
// Every error the library throws is an UnsealError with a `code` naming the
// kind of failure (the C core's status names without the US_ prefix, plus a
// few that only JavaScript can detect) and a message naming the file, tensor,
// layer or shape at fault.

/** Codes: ERR_INVALID_ARG, ERR_OOM, ERR_SHAPE, ERR_DTYPE, ERR_FORMAT,
 *  ERR_NOT_FOUND, ERR_RANGE, ERR_HOOK, ERR_HOOK_RETURN, ERR_UNKNOWN_LAYER,
 *  ERR_DUPLICATE_KEY, ERR_DISPOSED, ERR_EXPIRED, ERR_REENTRANT, ERR_STATE_DICT, ERR_IO. */
export class UnsealError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'UnsealError';
    this.code = code;
  }
}

// C status codes, in the order of enum us_status in include/unseal.h.
const C_CODES = [
  'OK', 'ERR_INVALID_ARG', 'ERR_OOM', 'ERR_SHAPE', 'ERR_DTYPE', 'ERR_FORMAT',
  'ERR_NOT_FOUND', 'ERR_RANGE', 'ERR_HOOK',
];

/** The UnsealError for a C status and message, optionally prefixed ("model.safetensors: "). */
export function fromStatus(status, message, prefix = '') {
  const code = C_CODES[status] ?? 'ERR_UNKNOWN';
  return new UnsealError(code, prefix + (message || code));
}
