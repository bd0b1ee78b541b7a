// Globals the k6 runtime provides that @types/k6 does not declare. The DOM library is not used,
// so browser-only APIs (fetch, window, setTimeout on old k6) stay type errors.
declare global {
  /** k6's console: messages go to k6's log (stderr), with their level. */
  var console: {
    log(...args: unknown[]): void;
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
    debug(...args: unknown[]): void;
  };
}

export {};
