import os from 'node:os';
import path from 'node:path';

/**
 * Returns the per-user cache folder for built and fetched programs: `$TRUEUP_CACHE_DIR` when
 * set, else `$XDG_CACHE_HOME/trueup`, else `~/.cache/trueup`. The folder is not created here.
 */
export function cacheDir(): string {
  const explicit = process.env.TRUEUP_CACHE_DIR;
  if (explicit) return path.resolve(explicit);
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg) return path.join(path.resolve(xdg), 'trueup');
  return path.join(os.homedir(), '.cache', 'trueup');
}
