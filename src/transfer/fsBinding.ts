/**
 * Node's fs binding (`process.binding('fs')`, the object lib/fs.js calls), where this process may
 * call it straight (leanStat.ts, boundFs.ts): not when something checks fs calls (the permission
 * model, which lives in the fs functions) or warns of process.binding (--pending-deprecation).
 * What each caller takes of it is checked by that caller.
 */
export function unwatchedFsBinding<Binding>(): Partial<Binding> | undefined {
  const options = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if ((process as { permission?: unknown }).permission !== undefined || /--pending-deprecation|--experimental-permission|--permission/.test(options)) return undefined;
  try {
    return (process as unknown as { binding(name: string): Partial<Binding> }).binding('fs');
  } catch {
    return undefined;
  }
}
