import { Router } from 'express';
import { sql } from 'kysely';
import type { ApiDeps } from '../app';
import { ROUTES } from '../catalog';
import { mount } from '../route-spec';

// The response reports only whether a part is reachable. The error itself, which may name
// hosts and users, goes to the log.
async function check(deps: ApiDeps, part: string, probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await probe();
    return { ok: true };
  } catch (error) {
    deps.logger.warn({ part, err: error }, 'health check failed');
    return { ok: false, error: `${part} is unreachable` };
  }
}

/** `GET /v1/health`: whether PostgreSQL and Temporal respond; 503 when either does not. No key needed. */
export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  mount(router, ROUTES.health, deps, async (_req, res) => {
    const [database, temporal] = await Promise.all([
      check(deps, 'PostgreSQL', () => sql`select 1`.execute(deps.db)),
      check(deps, 'Temporal', () => deps.temporal.workflowService.getSystemInfo({})),
    ]);
    const ok = database.ok && temporal.ok;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', database, temporal });
  });
  return router;
}
